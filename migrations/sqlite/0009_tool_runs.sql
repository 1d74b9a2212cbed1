-- How long each tool takes, from the reports of its past runs (completed or
-- failed; a skipped tool did not run): the tool list shows the average.
-- Kept by a trigger, so every writer of the event log keeps it, and filled
-- from the reports stored before it existed.
CREATE TABLE tool_runs (
    tool TEXT PRIMARY KEY,
    runs INTEGER NOT NULL,
    total_ms INTEGER NOT NULL
);

CREATE TRIGGER tool_run_finished AFTER INSERT ON events
WHEN NEW.kind = 'tool_finished'
     AND json_extract(NEW.payload, '$.report.status') IN ('completed', 'failed')
BEGIN
    INSERT INTO tool_runs (tool, runs, total_ms)
    VALUES (NEW.tool, 1, COALESCE(json_extract(NEW.payload, '$.report.duration'), 0))
    ON CONFLICT (tool) DO UPDATE SET runs = runs + 1, total_ms = total_ms + excluded.total_ms;
END;

INSERT INTO tool_runs (tool, runs, total_ms)
SELECT tool, COUNT(*), SUM(COALESCE(json_extract(payload, '$.report.duration'), 0))
FROM events
WHERE kind = 'tool_finished'
  AND json_extract(payload, '$.report.status') IN ('completed', 'failed')
GROUP BY tool;
