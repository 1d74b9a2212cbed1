-- Each tool's circuit breaker, shared by every node: tool errors in a row,
-- until when the circuit is open, and since when a trial run is under way
-- (the database's clock, in milliseconds since the epoch). A row is
-- changed only under its lock, so one node at a time lets a trial through.

CREATE TABLE tool_circuits (
    tool            TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    open_until_ms   BIGINT,
    trial_since_ms  BIGINT
);
