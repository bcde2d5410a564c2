-- One row the writer rewrites to learn whether the database can take a write again after a
-- failed batch (/readyz). The filler is as large as a few packets and random (so TOAST cannot
-- compress it), so the probe needs real space in the heap and the WAL.
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL,
    filler BYTEA NOT NULL
);
