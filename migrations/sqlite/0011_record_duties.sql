-- Duties set off by a record deposited about a child with no case open (a MERLIN notice before
-- any referral, Camden 6.2): carried out like every duty, and listed on the record, since there
-- is no case to list them on. The timeliness report counts them under the depositing agency,
-- whose duty it was.
CREATE TABLE record_duties (
    record_id        TEXT NOT NULL REFERENCES records (id),
    seq              INTEGER NOT NULL,            -- 1, 2, ... within the record
    subject_id       TEXT NOT NULL,
    agency           TEXT NOT NULL,               -- the depositing agency
    duty             TEXT NOT NULL,
    trigger_name     TEXT NOT NULL,
    recipient_agency TEXT NOT NULL,
    decision         TEXT NOT NULL,               -- permit | deny
    reasons          TEXT NOT NULL,               -- JSON array of reason codes
    disclosure_id    TEXT,
    audit_seq        BIGINT,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (record_id, seq)
);
CREATE INDEX record_duties_by_time ON record_duties (created_at);
CREATE INDEX record_duties_by_subject ON record_duties (subject_id);
