-- A counter bumped by every write that changes a fact the sharing rules use about a child
-- (consents, assessments, MAPPA status and decisions, designations, records, chair
-- permissions). A disclosure reads its facts outside the write queue and is committed only if
-- the counter has not moved since (otherwise the decision is made again on the new facts).
ALTER TABLE subjects ADD COLUMN facts_version BIGINT NOT NULL DEFAULT 0;
