-- The Merkle tree over the audit log (RFC 9162), kept in the same transaction as each append
-- (src/audit/tree.rs). `audit_tree` holds every node of every complete subtree, keyed by level
-- (top bits) and index; the head keeps the tree's size and its frontier (the roots of its
-- complete subtrees, 32 bytes each, biggest first). A database from before this migration has
-- `tree_size` 0 and catches up at start (`audit::catch_up`).
CREATE TABLE audit_tree (
    node BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);
ALTER TABLE audit_head ADD COLUMN tree_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN tree BYTEA NOT NULL DEFAULT '\x';

-- The checkpoints the broker signed: a tree size, its root and the signed note.
CREATE TABLE audit_checkpoints (
    size      BIGINT PRIMARY KEY,
    root      BYTEA NOT NULL,
    note      TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
