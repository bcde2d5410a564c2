-- PROCESS.md, Places P4 and P5. A case moves to another council's children's social care when
-- the child moves: the lead's team manager asks (a transfer, pending), a team manager of the
-- receiving agency accepts it naming the lead worker, and from then on that agency leads. One
-- pending transfer per case at a time. The note is personal content: age ciphertext to the
-- at-rest identity, like a case event's note.
CREATE TABLE case_transfers (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    from_agency  TEXT NOT NULL,
    to_agency    TEXT NOT NULL,
    requested_at TEXT NOT NULL,                 -- RFC 3339, UTC (db::ts)
    requested_by TEXT NOT NULL,                 -- sub
    note_enc     BLOB,
    accepted_at  TEXT,
    accepted_by  TEXT,                          -- sub
    lead_sub     TEXT                           -- the lead worker the receiving agency named
);
CREATE INDEX transfers_by_case ON case_transfers (case_id, requested_at);
CREATE UNIQUE INDEX transfers_one_pending ON case_transfers (case_id) WHERE accepted_at IS NULL;
CREATE INDEX transfers_pending_to ON case_transfers (to_agency, requested_at) WHERE accepted_at IS NULL;

-- a worker_allocated event names the worker it allocates (P5)
ALTER TABLE case_events ADD COLUMN lead_sub TEXT;
