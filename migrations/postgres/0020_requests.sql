-- PROCESS.md, Meetings, actions and requests for information. The lead agency of a child's
-- open case asks another agency for information about the child ("each agency should
-- contribute information to all ... assessments", Camden §14): for a purpose, naming the
-- sections it needs, by a due time. The addressee answers by a disclosure that names the
-- request (answered_at, disclosure_id) or declines it with a reason. The note and the reason
-- are personal content: age ciphertext to the at-rest identity, like a case event's note.
CREATE TABLE info_requests (
    id            TEXT PRIMARY KEY,
    subject_id    TEXT NOT NULL,
    case_id       TEXT NOT NULL REFERENCES cases (id),  -- the requester's open case
    from_agency   TEXT NOT NULL,
    from_sub      TEXT NOT NULL,
    to_agency     TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    sections      TEXT NOT NULL,                        -- JSON array of section names
    due_at        TEXT NOT NULL,                        -- RFC 3339, UTC (db::ts)
    note_enc      BYTEA,
    status        TEXT NOT NULL,                        -- open | answered | declined
    answered_at   TEXT,
    disclosure_id TEXT,                                 -- the disclosure that answered it
    declined_at   TEXT,
    reason_enc    BYTEA,
    created_at    TEXT NOT NULL
);
CREATE INDEX info_requests_to ON info_requests (to_agency, status, due_at);
CREATE INDEX info_requests_from ON info_requests (from_agency, status, due_at);
CREATE INDEX info_requests_by_case ON info_requests (case_id, created_at);
