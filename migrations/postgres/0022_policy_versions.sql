-- The policy as audited, versioned state (issue 24). Every version of the policy that came
-- into force is a row, written in the same transaction as its `policy_in_force` audit entry.
-- The newest row (the highest number) is the version in force: every broker process on this
-- database polls it and swaps to it, so replicas converge on one version. The files are
-- stored whole, so every replica loads the same bytes, whatever files it started with.
CREATE TABLE policy_versions (
    number     BIGINT PRIMARY KEY,   -- 1, 2, ... in the order the versions came into force
    hash       TEXT NOT NULL,        -- Policy::version(): SHA-256 over the files by name
    files      TEXT NOT NULL,        -- JSON object: file name -> its text
    profile    TEXT,                 -- [process] timescales in force; NULL: timescales.csv
    loaded_by  TEXT NOT NULL,        -- "cli <user>@<host>", "SIGHUP ...", "start of broker ..."
    loaded_at  TEXT NOT NULL,        -- RFC 3339, UTC (db::ts)
    audit_seq  BIGINT NOT NULL,      -- the policy_in_force entry that recorded it
    changes    TEXT NOT NULL         -- JSON array: per file, the rows added and removed
);
