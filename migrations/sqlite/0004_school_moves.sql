-- Children move school (RULES.md 4.3 e): `PUT /v1/subjects/{id}/school` changes the child's
-- recorded school, a fact the rules use (a school receives only about its own pupils). Like
-- every other fact it moves the child's facts_version, so a disclosure decided on the old
-- school while the move commits is decided again on the new one.
CREATE TRIGGER subjects_school_facts AFTER UPDATE OF school_agency ON subjects BEGIN
    UPDATE subjects SET facts_version = facts_version + 1 WHERE id = NEW.id;
END;
