-- A counter bumped by every change to a fact the sharing rules use about a child: consents
-- (and their withdrawal), competence assessments, MAPPA status and forum decisions, staff
-- designations and chair permissions. A disclosure reads its facts outside the write queue and
-- is committed only if the counter has not moved since (otherwise the decision is made again
-- on the new facts). Triggers keep it, so no write path can forget to. Records themselves are
-- never changed after deposit and are named by id, so a deposit does not move it.
ALTER TABLE subjects ADD COLUMN facts_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION broker_subject_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE subjects SET facts_version = facts_version + 1 WHERE id = OLD.subject_id;
        RETURN OLD;
    END IF;
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.subject_id;
    RETURN NEW;
END
$$;

CREATE FUNCTION broker_record_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE subjects SET facts_version = facts_version + 1
        WHERE id = (SELECT subject_id FROM records WHERE id = OLD.record_id);
        RETURN OLD;
    END IF;
    UPDATE subjects SET facts_version = facts_version + 1
    WHERE id = (SELECT subject_id FROM records WHERE id = NEW.record_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER consents_facts AFTER INSERT OR UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION broker_subject_facts_changed();

CREATE TRIGGER competence_assessments_facts AFTER INSERT OR UPDATE OR DELETE ON competence_assessments
    FOR EACH ROW EXECUTE FUNCTION broker_subject_facts_changed();

CREATE TRIGGER mappa_status_facts AFTER INSERT OR UPDATE OR DELETE ON mappa_status
    FOR EACH ROW EXECUTE FUNCTION broker_subject_facts_changed();

CREATE TRIGGER mappa_decisions_facts AFTER INSERT OR UPDATE OR DELETE ON mappa_decisions
    FOR EACH ROW EXECUTE FUNCTION broker_subject_facts_changed();

CREATE TRIGGER staff_designations_facts AFTER INSERT OR UPDATE OR DELETE ON staff_designations
    FOR EACH ROW EXECUTE FUNCTION broker_subject_facts_changed();

CREATE TRIGGER chair_permissions_facts AFTER INSERT OR UPDATE OR DELETE ON chair_permissions
    FOR EACH ROW EXECUTE FUNCTION broker_record_facts_changed();
