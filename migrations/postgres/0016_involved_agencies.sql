-- Involved agencies (PROCESS.md P3): an agency involved in a case that it does not lead, the
-- placing authority of a looked-after child whose case children's social care of the area the
-- child lives in leads (Camden 8.5). It reads the case and is told of its steps. Recorded when
-- it becomes involved (the case is opened, or the child's placement is recorded while the case
-- is open) and kept: a later move of the child does not take away what the agency was part of.
CREATE TABLE case_involved_agencies (
    case_id    TEXT NOT NULL REFERENCES cases (id),
    agency     TEXT NOT NULL,
    reason     TEXT NOT NULL,           -- placing_authority
    since      TEXT NOT NULL,           -- db::ts
    PRIMARY KEY (case_id, agency)
);
-- an agency's list of cases: the ones it leads and the ones it is involved in
CREATE INDEX case_involved_agencies_by_agency ON case_involved_agencies (agency, case_id);
