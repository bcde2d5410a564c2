-- Routes (PROCESS.md, Routes): a case event may carry the route a strategy discussion decided,
-- the clock a team manager says is not required, or a screening's tool and level. A clock may
-- repeat (the review every 6 months after the first at 3): each occurrence is its own row, and
-- a clock of a route the case did not take is `not_required` (never late nor overdue).
ALTER TABLE case_events ADD COLUMN route TEXT;
ALTER TABLE case_events ADD COLUMN clock TEXT;
ALTER TABLE case_events ADD COLUMN screening_tool TEXT;
ALTER TABLE case_events ADD COLUMN screening_level TEXT;

ALTER TABLE case_clocks ADD COLUMN occurrence INTEGER NOT NULL DEFAULT 1;
ALTER TABLE case_clocks ADD COLUMN not_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE case_clocks DROP CONSTRAINT case_clocks_pkey;
ALTER TABLE case_clocks ADD PRIMARY KEY (case_id, clock, occurrence);
-- what runs and may be overdue: not stopped, and required
DROP INDEX clocks_running;
DROP INDEX clocks_running_by_case;
CREATE INDEX clocks_running ON case_clocks (due_at) WHERE stopped_at IS NULL AND not_required = 0;
CREATE INDEX clocks_running_by_case ON case_clocks (case_id, due_at)
    WHERE stopped_at IS NULL AND not_required = 0;
-- the report's medians walk (clock, taken_seconds) in order and filter on the window, the first
-- occurrence and the lead agency: with those in the index, no row is fetched for them
DROP INDEX clocks_by_taken;
CREATE INDEX clocks_by_taken ON case_clocks (clock, taken_seconds, started_at, occurrence, lead_agency);
