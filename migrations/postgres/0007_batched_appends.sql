-- Appends in batches: a node sends every append waiting in one statement,
-- a transaction of its own, so a busy node commits (and flushes) once for
-- many events instead of once each. `livescan_append_many` takes the
-- appends as arrays, the n-th element of each being the n-th append, and
-- makes them in that order, each as `livescan_append` did (lock the
-- session's head, check what may follow, insert, move the head). It
-- returns (item, seq, at_ms) for each append stored, item being its place
-- in the arrays (from 1); seq -1 when its session does not exist; no row
-- when it may not follow or is a second one of its kind.
--
-- The caller orders a batch by session id (bytewise, COLLATE "C"), so
-- every batch locks sessions' rows in one order and two nodes' batches
-- never deadlock. The runs are
-- counted last, one row per tool in the tools' order, for the same reason.
-- `livescan_append` becomes one append of a batch, so its rules live once,
-- and a node of the previous release keeps working beside this one.

CREATE FUNCTION livescan_append_many(
    p_sessions TEXT[], p_kinds TEXT[], p_tools TEXT[], p_payloads TEXT[], p_now_ms BIGINT,
    p_run_ms BIGINT[], p_versions TEXT[])
RETURNS TABLE (item INT, seq BIGINT, at_ms BIGINT) LANGUAGE plpgsql AS $$
DECLARE
    i INT;
    head RECORD;
    next_seq BIGINT;
    next_at BIGINT;
    counted INT[] := '{}';
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_sessions, 1), 0) LOOP
        SELECT s.last_seq, s.last_at_ms, s.cancelled, s.finished INTO head
        FROM sessions s WHERE s.id = p_sessions[i] FOR UPDATE;
        IF NOT FOUND THEN
            item := i; seq := -1; at_ms := 0; RETURN NEXT;
            CONTINUE;
        END IF;
        CONTINUE WHEN (head.finished AND p_kinds[i] <> 'narrative')
            OR (head.cancelled AND p_kinds[i] = 'tool_started');
        next_seq := head.last_seq + 1;
        next_at := GREATEST(p_now_ms, head.last_at_ms + 1);
        INSERT INTO events (session_id, seq, at_ms, kind, tool, payload)
        VALUES (p_sessions[i], next_seq, next_at, p_kinds[i], p_tools[i], p_payloads[i])
        ON CONFLICT DO NOTHING;
        CONTINUE WHEN NOT FOUND;
        UPDATE sessions SET last_seq = next_seq, last_at_ms = next_at,
            cancelled = cancelled OR p_kinds[i] = 'cancel_requested',
            finished = finished OR p_kinds[i] = 'session_finished'
        WHERE id = p_sessions[i];
        IF p_run_ms[i] IS NOT NULL THEN
            counted := counted || i;
        END IF;
        item := i; seq := next_seq; at_ms := next_at; RETURN NEXT;
    END LOOP;
    INSERT INTO tool_runs AS t (tool, runs, total_ms, version)
    SELECT r.tool, count(*), sum(r.ms),
        (array_agg(r.version ORDER BY r.i DESC) FILTER (WHERE r.version IS NOT NULL))[1]
    FROM unnest(p_tools, p_run_ms, p_versions) WITH ORDINALITY AS r (tool, ms, version, i)
    WHERE r.i = ANY (counted)
    GROUP BY r.tool
    ORDER BY r.tool
    ON CONFLICT (tool) DO UPDATE SET runs = t.runs + excluded.runs,
        total_ms = t.total_ms + excluded.total_ms,
        version = COALESCE(excluded.version, t.version);
END $$;

CREATE OR REPLACE FUNCTION livescan_append(
    p_session TEXT, p_kind TEXT, p_tool TEXT, p_payload TEXT, p_now_ms BIGINT,
    p_run_ms BIGINT, p_version TEXT)
RETURNS TABLE (seq BIGINT, at_ms BIGINT) LANGUAGE sql AS $$
    SELECT a.seq, a.at_ms FROM livescan_append_many(ARRAY[p_session], ARRAY[p_kind], ARRAY[p_tool],
        ARRAY[p_payload], p_now_ms, ARRAY[p_run_ms], ARRAY[p_version]) AS a
$$;
