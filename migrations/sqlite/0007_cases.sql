-- The case process (PROCESS.md): one case per child's episode, led by a children's social
-- care agency; its events (append only), its links to other cases, and its clocks. A clock
-- row is written when its start happens and stamped when its stop happens, with the due time
-- computed then from timescales.csv, so the overdue list and the timeliness report are
-- queries over this table. Rationales and notes are personal content: age ciphertext to the
-- at-rest identity, like record sections.
CREATE TABLE cases (
    id                   TEXT PRIMARY KEY,
    subject_id           TEXT NOT NULL REFERENCES subjects (id),
    subject_role         TEXT NOT NULL,          -- harmful_behaviour | victim | other
    lead_agency          TEXT NOT NULL,
    lead_sub             TEXT NOT NULL,
    referred_by_agency   TEXT,
    referral_received_at TEXT NOT NULL,          -- RFC 3339, UTC (db::ts)
    status               TEXT NOT NULL,          -- open | closed
    opened_at            TEXT NOT NULL,
    opened_by            TEXT NOT NULL,          -- sub
    closed_at            TEXT,
    outcome              TEXT                    -- the latest outcome recorded
);
CREATE INDEX cases_by_lead ON cases (lead_agency, status, opened_at);
CREATE INDEX cases_by_subject ON cases (subject_id);
-- one open case per child and lead agency
CREATE UNIQUE INDEX cases_one_open ON cases (subject_id, lead_agency) WHERE status = 'open';

-- a link between two cases, stored once each way so either side finds it by its own id
CREATE TABLE case_links (
    case_id   TEXT NOT NULL REFERENCES cases (id),
    linked_id TEXT NOT NULL REFERENCES cases (id),
    linked_at TEXT NOT NULL,
    PRIMARY KEY (case_id, linked_id)
);

CREATE TABLE case_events (
    case_id       TEXT NOT NULL REFERENCES cases (id),
    seq           INTEGER NOT NULL,              -- 1, 2, ... within the case
    kind          TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    record_id     TEXT REFERENCES records (id),
    outcome       TEXT,
    rationale_enc BLOB,
    note_enc      BLOB,
    agency        TEXT NOT NULL,
    sub           TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE case_clocks (
    case_id       TEXT NOT NULL REFERENCES cases (id),
    clock         TEXT NOT NULL,
    lead_agency   TEXT NOT NULL,                 -- the case's, for the report's filter
    started_at    TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    stopped_at    TEXT,
    taken_seconds INTEGER,                       -- stopped_at - started_at, once stopped
    PRIMARY KEY (case_id, clock)
);
CREATE INDEX clocks_running ON case_clocks (due_at) WHERE stopped_at IS NULL;
CREATE INDEX clocks_by_start ON case_clocks (clock, started_at);
CREATE INDEX clocks_by_taken ON case_clocks (clock, taken_seconds);

-- duties to notify (policies/duties.csv) carried out for a case: delivered as a notification
-- disclosure, or denied by the rules with their reasons; never dropped
CREATE TABLE case_duties (
    case_id          TEXT NOT NULL REFERENCES cases (id),
    seq              INTEGER NOT NULL,            -- 1, 2, ... within the case
    duty             TEXT NOT NULL,
    trigger_name     TEXT NOT NULL,
    recipient_agency TEXT NOT NULL,
    decision         TEXT NOT NULL,               -- permit | deny
    reasons          TEXT NOT NULL,               -- JSON array of reason codes
    disclosure_id    TEXT,
    audit_seq        BIGINT,
    created_at       TEXT NOT NULL,
    lead_agency      TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX duties_by_time ON case_duties (created_at);
