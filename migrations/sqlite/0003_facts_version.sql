-- A counter bumped by every change to a fact the sharing rules use about a child: consents
-- (and their withdrawal), competence assessments, MAPPA status and forum decisions, staff
-- designations and chair permissions. A disclosure reads its facts outside the write queue and
-- is committed only if the counter has not moved since (otherwise the decision is made again
-- on the new facts). Triggers keep it, so no write path can forget to. Records themselves are
-- never changed after deposit and are named by id, so a deposit does not move it.
ALTER TABLE subjects ADD COLUMN facts_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER consents_insert_facts AFTER INSERT ON consents BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER consents_update_facts AFTER UPDATE ON consents BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER consents_delete_facts AFTER DELETE ON consents BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = OLD.subject_id;
END;

CREATE TRIGGER competence_assessments_insert_facts AFTER INSERT ON competence_assessments BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER competence_assessments_update_facts AFTER UPDATE ON competence_assessments BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER competence_assessments_delete_facts AFTER DELETE ON competence_assessments BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = OLD.subject_id;
END;

CREATE TRIGGER mappa_status_insert_facts AFTER INSERT ON mappa_status BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER mappa_status_update_facts AFTER UPDATE ON mappa_status BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER mappa_status_delete_facts AFTER DELETE ON mappa_status BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = OLD.subject_id;
END;

CREATE TRIGGER mappa_decisions_insert_facts AFTER INSERT ON mappa_decisions BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER mappa_decisions_update_facts AFTER UPDATE ON mappa_decisions BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER mappa_decisions_delete_facts AFTER DELETE ON mappa_decisions BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = OLD.subject_id;
END;

CREATE TRIGGER staff_designations_insert_facts AFTER INSERT ON staff_designations BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER staff_designations_update_facts AFTER UPDATE ON staff_designations BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
END;

CREATE TRIGGER staff_designations_delete_facts AFTER DELETE ON staff_designations BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = OLD.subject_id;
END;

CREATE TRIGGER chair_permissions_insert_facts AFTER INSERT ON chair_permissions BEGIN
    UPDATE subjects SET facts_version = facts_version + 1
    WHERE id = (SELECT subject_id FROM records WHERE id = NEW.record_id);
END;

CREATE TRIGGER chair_permissions_update_facts AFTER UPDATE ON chair_permissions BEGIN
    UPDATE subjects SET facts_version = facts_version + 1
    WHERE id = (SELECT subject_id FROM records WHERE id = NEW.record_id);
END;

CREATE TRIGGER chair_permissions_delete_facts AFTER DELETE ON chair_permissions BEGIN
    UPDATE subjects SET facts_version = facts_version + 1
    WHERE id = (SELECT subject_id FROM records WHERE id = OLD.record_id);
END;
