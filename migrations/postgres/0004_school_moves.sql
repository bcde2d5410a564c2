-- Children move school (RULES.md 4.3 e): `PUT /v1/subjects/{id}/school` changes the child's
-- recorded school, a fact the rules use (a school receives only about its own pupils). Like
-- every other fact it moves the child's facts_version, so a disclosure decided on the old
-- school while the move commits is decided again on the new one.
CREATE FUNCTION broker_subject_school_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.facts_version := OLD.facts_version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER subjects_school_facts BEFORE UPDATE OF school_agency ON subjects
    FOR EACH ROW EXECUTE FUNCTION broker_subject_school_changed();
