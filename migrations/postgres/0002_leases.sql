-- Which node runs each unfinished session, and until when (the database's
-- clock, in milliseconds since the epoch): a node renews its leases while
-- it runs the sessions, and a lease that ran out (a node killed, cut off)
-- lets another node claim the session and resume it from its log.

ALTER TABLE sessions ADD COLUMN lease_node TEXT;
ALTER TABLE sessions ADD COLUMN lease_until_ms BIGINT;
CREATE INDEX sessions_by_lease ON sessions (lease_node) WHERE NOT finished;
