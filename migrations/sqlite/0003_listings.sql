-- What a list shows of a finished session (status, progress, summary, times,
-- cursor), stored when it ends so that listing never folds a log; and each
-- user's number of sessions, kept as sessions are created, so that a list's
-- total is one row, not a count over every session.
ALTER TABLE sessions ADD COLUMN listing TEXT;

CREATE TABLE session_counts (
    user_id   TEXT PRIMARY KEY,
    sessions  INTEGER NOT NULL
);
INSERT INTO session_counts (user_id, sessions)
    SELECT user_id, COUNT(*) FROM sessions GROUP BY user_id;
