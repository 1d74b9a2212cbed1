-- Sessions found by their scan id, for the legacy Scans API
-- (`GET /api/v1/scans/{scanId}`); filled in for the sessions already stored.
ALTER TABLE sessions ADD COLUMN scan_id TEXT;
UPDATE sessions SET scan_id = json_extract(meta, '$.scanId');
CREATE UNIQUE INDEX sessions_by_scan_id ON sessions (scan_id);
