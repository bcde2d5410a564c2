-- broker keys rotate-at-rest: how far each table's re-encryption to the new key has got, so a
-- rotation stopped part-way resumes where it was. Its rows go when the rotation ends.
CREATE TABLE at_rest_rotation (
    recipient TEXT NOT NULL,           -- the new key's public age1... recipient
    tbl       TEXT NOT NULL,           -- a table holding content encrypted at rest
    cursor    TEXT,                    -- JSON array: the key of the last row done; NULL: none
    done      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (recipient, tbl)
);
