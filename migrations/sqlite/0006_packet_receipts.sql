-- Acknowledgement (PROCESS.md): when the addressee first fetched each packet, and when it
-- acknowledged that the packet was received and read. Both are set once and never moved; who
-- did each, and every later fetch, is in the audit log.
ALTER TABLE packets ADD COLUMN first_read_at TEXT;       -- RFC 3339, UTC (db::ts)
ALTER TABLE packets ADD COLUMN acknowledged_at TEXT;     -- RFC 3339, UTC (db::ts)
