-- Routes (PROCESS.md, Routes): a case event may carry the route a strategy discussion decided,
-- the clock a team manager says is not required, or a screening's tool and level. A clock may
-- repeat (the review every 6 months after the first at 3): each occurrence is its own row, and
-- a clock of a route the case did not take is `not_required` (never late nor overdue).
ALTER TABLE case_events ADD COLUMN route TEXT;
ALTER TABLE case_events ADD COLUMN clock TEXT;
ALTER TABLE case_events ADD COLUMN screening_tool TEXT;
ALTER TABLE case_events ADD COLUMN screening_level TEXT;

CREATE TABLE case_clocks_new (
    case_id       TEXT NOT NULL REFERENCES cases (id),
    clock         TEXT NOT NULL,
    occurrence    INTEGER NOT NULL DEFAULT 1,    -- 1, 2, ... of a repeating clock
    lead_agency   TEXT NOT NULL,
    case_status   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    stopped_at    TEXT,
    taken_seconds INTEGER,
    not_required  INTEGER NOT NULL DEFAULT 0,    -- 1: a route not taken, or a team manager's word
    PRIMARY KEY (case_id, clock, occurrence)
);
INSERT INTO case_clocks_new (case_id, clock, occurrence, lead_agency, case_status, started_at,
    due_at, stopped_at, taken_seconds, not_required)
SELECT case_id, clock, 1, lead_agency, case_status, started_at, due_at, stopped_at,
    taken_seconds, 0 FROM case_clocks;
DROP TABLE case_clocks;
ALTER TABLE case_clocks_new RENAME TO case_clocks;
-- what runs and may be overdue: not stopped, and required
CREATE INDEX clocks_running ON case_clocks (due_at) WHERE stopped_at IS NULL AND not_required = 0;
CREATE INDEX clocks_running_by_case ON case_clocks (case_id, due_at)
    WHERE stopped_at IS NULL AND not_required = 0;
CREATE INDEX clocks_by_start ON case_clocks (clock, started_at);
CREATE INDEX clocks_by_taken ON case_clocks (clock, taken_seconds);
-- the report's medians walk (clock, taken_seconds) in order and filter on the window, the first
-- occurrence and the lead agency: with those in the index, no row is fetched for them
DROP INDEX clocks_by_taken;
CREATE INDEX clocks_by_taken ON case_clocks (clock, taken_seconds, started_at, occurrence, lead_agency);
