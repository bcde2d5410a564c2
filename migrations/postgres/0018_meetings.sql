-- PROCESS.md, Meetings. The lead agency of a case schedules a meeting (a strategy meeting, a
-- review, a professionals' meeting, a pre-release meeting) and invites agencies, each told by a
-- `notification` duty (policies/duties.csv, trigger meeting_scheduled); it then records who
-- attended, and for an agency that could not, the written report it sent (Camden §14: "an
-- agency that cannot attend ... a written report should be made available"). A strategy
-- meeting is held when its first attendance is recorded: the case's strategy_meeting_held
-- event (held_seq) is recorded at the meeting's time.
CREATE TABLE case_meetings (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases (id),
    kind           TEXT NOT NULL,               -- strategy_meeting | review_meeting | ...
    scheduled_for  TEXT NOT NULL,               -- RFC 3339, UTC (db::ts)
    invitees       TEXT NOT NULL,               -- JSON array of agency ids, in the order given
    created_agency TEXT NOT NULL,
    created_by     TEXT NOT NULL,               -- sub
    created_at     TEXT NOT NULL,
    held_seq       BIGINT                       -- the case event that recorded it held
);
CREATE INDEX meetings_by_case ON case_meetings (case_id, scheduled_for);

-- One row per agency and meeting: attended, or apologies with an optional written report (a
-- record about the case's child). Never edited.
CREATE TABLE case_meeting_attendance (
    meeting_id               TEXT NOT NULL REFERENCES case_meetings (id),
    agency                   TEXT NOT NULL,
    attended                 BOOLEAN NOT NULL,
    written_report_record_id TEXT REFERENCES records (id),
    recorded_at              TEXT NOT NULL,
    recorded_agency          TEXT NOT NULL,
    recorded_by              TEXT NOT NULL,     -- sub
    PRIMARY KEY (meeting_id, agency)
);
