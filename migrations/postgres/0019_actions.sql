-- PROCESS.md, Meetings, actions and requests for information: "all recommendations/actions
-- must be clearly recorded" (All Wales). The lead agency agrees an action on a case, owned by
-- an agency (which may not read the case) with a due time; the owner marks it done with a
-- note. The description and the note are personal content: age ciphertext to the at-rest
-- identity, like a case event's note. The overdue list and the timeliness report's `action`
-- line are queries over this table.
CREATE TABLE case_actions (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases (id),
    seq             BIGINT NOT NULL,                -- 1, 2, ... within the case
    description_enc BYTEA NOT NULL,
    owner_agency    TEXT NOT NULL,
    due_at          TEXT NOT NULL,                 -- RFC 3339, UTC (db::ts)
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,                 -- sub, of the lead agency
    lead_agency     TEXT NOT NULL,                 -- the case's, for the report's filter
    case_status     TEXT NOT NULL DEFAULT 'open',    -- the case's (open | closed), for the report
    status          TEXT NOT NULL,                 -- open | done
    done_at         TEXT,
    done_by         TEXT,                          -- sub, of the owner agency
    note_enc        BYTEA,
    taken_seconds   BIGINT,                         -- done_at - created_at, once done
    UNIQUE (case_id, seq)
);
-- an agency's own actions (GET /v1/actions), open ones by due time
CREATE INDEX actions_by_owner ON case_actions (owner_agency, status, due_at);
-- the timeliness report: actions agreed in a window
CREATE INDEX actions_by_created ON case_actions (created_at);
-- the report's median: walked in order, as case_clocks' (clock, taken_seconds)
CREATE INDEX actions_by_taken ON case_actions (taken_seconds);
