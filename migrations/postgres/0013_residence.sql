-- Places (PROCESS.md, Places): a child's home area is `local_authority` (an area id when the
-- partnership has [[areas]]); where the child lives when that is another area, whether it is
-- looked after and which agency placed it are set by `PUT /v1/subjects/{id}/residence`.
-- The current area is a fact the rules use (RULES 10.1), so a change moves facts_version like
-- a change of school does.
ALTER TABLE subjects ADD COLUMN residence_area TEXT;
ALTER TABLE subjects ADD COLUMN looked_after BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE subjects ADD COLUMN placed_by TEXT;

CREATE TRIGGER subjects_residence_facts BEFORE UPDATE OF residence_area, looked_after, placed_by ON subjects
    FOR EACH ROW EXECUTE FUNCTION broker_subject_school_changed();
