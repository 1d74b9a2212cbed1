-- How long each tool takes, from the reports of its past runs (completed or
-- failed; a skipped tool did not run), and the version of the scanner that
-- ran last: the tool list shows both.
-- Kept by a trigger, so every writer of the event log keeps it, and filled
-- from the reports stored before it existed.
CREATE TABLE tool_runs (
    tool TEXT PRIMARY KEY,
    runs INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    version TEXT
);

CREATE TRIGGER tool_run_finished AFTER INSERT ON events
WHEN NEW.kind = 'tool_finished'
     AND json_extract(NEW.payload, '$.report.status') IN ('completed', 'failed')
BEGIN
    INSERT INTO tool_runs (tool, runs, total_ms, version)
    VALUES (NEW.tool, 1, COALESCE(json_extract(NEW.payload, '$.report.duration'), 0),
            json_extract(NEW.payload, '$.report.result.scanner.version'))
    ON CONFLICT (tool) DO UPDATE SET runs = runs + 1, total_ms = total_ms + excluded.total_ms,
                                     version = COALESCE(excluded.version, version);
END;

INSERT INTO tool_runs (tool, runs, total_ms, version)
SELECT tool, COUNT(*), SUM(COALESCE(json_extract(payload, '$.report.duration'), 0)),
       (SELECT json_extract(latest.payload, '$.report.result.scanner.version') FROM events AS latest
        WHERE latest.tool = finished.tool AND latest.kind = 'tool_finished'
          AND json_extract(latest.payload, '$.report.result.scanner.version') IS NOT NULL
        ORDER BY latest.at_ms DESC LIMIT 1)
FROM events AS finished
WHERE kind = 'tool_finished'
  AND json_extract(payload, '$.report.status') IN ('completed', 'failed')
GROUP BY tool;
