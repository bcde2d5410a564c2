-- Packets delivered by permitted disclosures, one per disclosure, each an ASCII-armoured
-- `age` ciphertext encrypted to the recipient agency. Only identifiers and the ciphertext are
-- stored here; the broker cannot read a packet after it is written.
CREATE TABLE packets (
    disclosure_id TEXT PRIMARY KEY,
    subject_id    TEXT NOT NULL,
    record_ids    TEXT NOT NULL,          -- JSON array of record ids
    record_kind   TEXT NOT NULL,
    from_agency   TEXT NOT NULL,
    to_agency     TEXT NOT NULL,
    to_role       TEXT,
    to_sub        TEXT,
    purpose       TEXT NOT NULL,
    basis         TEXT NOT NULL,
    view          TEXT NOT NULL,
    issued_at     TEXT NOT NULL,          -- RFC 3339, UTC
    sha256        TEXT NOT NULL,          -- of the armoured packet
    armored       TEXT NOT NULL
);

-- the inbox: newest first for one agency
CREATE INDEX packets_inbox ON packets (to_agency, issued_at);
