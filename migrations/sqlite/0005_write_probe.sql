-- One row the writer rewrites to learn whether the database can take a write again after a
-- failed batch (/readyz). The filler is as large as a few packets and random, so the probe
-- needs real space in the file and its log, not just a page that happens to be free.
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL,
    filler BLOB NOT NULL
);
