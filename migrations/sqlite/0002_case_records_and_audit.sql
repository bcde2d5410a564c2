-- Children, the facts the rules need about them, records, and the audit chain.
-- Personal content (names, record sections, designation reasons) is stored only as `age`
-- ciphertext to the broker's at-rest identity (*_enc columns).

CREATE TABLE subjects (
    id              TEXT PRIMARY KEY,
    date_of_birth   TEXT NOT NULL,          -- YYYY-MM-DD
    school_agency   TEXT,
    local_authority TEXT,
    display_name_enc BLOB,
    registered_by   TEXT NOT NULL,          -- agency id
    created_at      TEXT NOT NULL
);

-- Gillick / mental capacity assessments; the latest of each kind is the fact used
CREATE TABLE competence_assessments (
    id          TEXT PRIMARY KEY,
    subject_id  TEXT NOT NULL REFERENCES subjects (id),
    assessment  TEXT NOT NULL,              -- gillick | capacity
    outcome     BOOLEAN NOT NULL,           -- competent / has capacity
    assessed_on TEXT NOT NULL,
    agency      TEXT NOT NULL,
    sub         TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX competence_by_subject ON competence_assessments (subject_id, assessment, assessed_on);

CREATE TABLE consents (
    id              TEXT PRIMARY KEY,
    subject_id      TEXT NOT NULL REFERENCES subjects (id),
    given_by        TEXT NOT NULL,          -- child | parent
    purposes        TEXT NOT NULL,          -- JSON array
    recipient_kinds TEXT NOT NULL,          -- JSON array
    expires_at      TEXT,
    withdrawn_at    TEXT,
    agency          TEXT NOT NULL,
    sub             TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX consents_by_subject ON consents (subject_id);

CREATE TABLE mappa_status (
    subject_id TEXT PRIMARY KEY REFERENCES subjects (id),
    active     BOOLEAN NOT NULL,
    category   INTEGER NOT NULL,
    level      INTEGER NOT NULL,
    agency     TEXT NOT NULL,
    sub        TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE mappa_decisions (
    id               TEXT PRIMARY KEY,
    subject_id       TEXT NOT NULL REFERENCES subjects (id),
    recipient_agency TEXT NOT NULL,
    recipient_role   TEXT,
    purposes         TEXT NOT NULL,         -- JSON array
    sections         TEXT NOT NULL,         -- JSON array
    decided_on       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    chair_agency     TEXT NOT NULL,
    chair_sub        TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX mappa_decisions_by_subject ON mappa_decisions (subject_id);

CREATE TABLE staff_designations (
    id            TEXT PRIMARY KEY,
    subject_id    TEXT NOT NULL REFERENCES subjects (id),
    school_agency TEXT NOT NULL,
    staff_sub     TEXT NOT NULL,
    reason_enc    BLOB NOT NULL,
    designated_by TEXT NOT NULL,            -- head teacher's sub
    created_at    TEXT NOT NULL
);
CREATE INDEX designations_by_subject ON staff_designations (subject_id);

CREATE TABLE records (
    id           TEXT PRIMARY KEY,
    subject_id   TEXT NOT NULL REFERENCES subjects (id),
    owner_agency TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject_role TEXT NOT NULL,             -- harmful_behaviour | victim | other
    sections     TEXT NOT NULL,             -- JSON array of section names present
    content_enc  BLOB NOT NULL,             -- age ciphertext of {section: content}
    chair_agency TEXT,
    chair_sub    TEXT,
    deposited_by TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX records_by_subject ON records (subject_id);

CREATE TABLE chair_permissions (
    record_id        TEXT NOT NULL REFERENCES records (id),
    recipient_agency TEXT NOT NULL,
    granted_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (record_id, recipient_agency)
);

-- The append-only, hash-chained audit log. `at` and the JSON columns are stored as text so
-- that the canonical encoding an entry was hashed with is exactly what is read back.
CREATE TABLE audit_log (
    seq              BIGINT PRIMARY KEY,
    at               TEXT NOT NULL,         -- RFC 3339, UTC, microseconds
    actor_agency     TEXT NOT NULL,
    actor_sub        TEXT NOT NULL,
    actor_roles      TEXT NOT NULL,         -- JSON array
    action           TEXT NOT NULL,
    subject_id       TEXT,
    record_ids       TEXT NOT NULL,         -- JSON array
    owner_agencies   TEXT NOT NULL,         -- JSON array: owners of those records
    recipient_agency TEXT,
    recipient_role   TEXT,
    recipient_sub    TEXT,
    purpose          TEXT,
    basis            TEXT,
    justification    TEXT,
    decision         TEXT,                  -- permit | deny | null (not a decision)
    reasons          TEXT NOT NULL,         -- JSON array of reason codes
    obligations      TEXT NOT NULL,         -- JSON array
    policy_version   TEXT,
    packet_sha256    TEXT,
    detail           TEXT NOT NULL,         -- JSON object: ids of what the action touched
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE INDEX audit_by_subject ON audit_log (subject_id, seq);
CREATE INDEX audit_by_actor ON audit_log (actor_agency, seq);
CREATE INDEX audit_by_recipient ON audit_log (recipient_agency, seq);

-- records named by an entry, for "every decision about this record"
CREATE TABLE audit_records (
    record_id TEXT NOT NULL,
    seq       BIGINT NOT NULL REFERENCES audit_log (seq),
    PRIMARY KEY (record_id, seq)
);

-- the chain's head: one row, locked by every append so the chain stays linear
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'sha256:0000000000000000000000000000000000000000000000000000000000000000');

-- reviews of overrides (the IG review queue is every ig_review permit without a review)
CREATE TABLE audit_reviews (
    override_seq BIGINT PRIMARY KEY REFERENCES audit_log (seq),
    outcome      TEXT NOT NULL,             -- upheld | concern
    note_enc     BLOB NOT NULL,
    reviewer_agency TEXT NOT NULL,
    reviewer_sub TEXT NOT NULL,
    review_seq   BIGINT NOT NULL,
    reviewed_at  TEXT NOT NULL
);
