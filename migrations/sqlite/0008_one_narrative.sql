-- A session's narrative (a language model's reading of its analysis) is
-- recorded once, after its end; a second one is a duplicate the append drops.
CREATE UNIQUE INDEX one_narrative_per_session ON events (session_id) WHERE kind = 'narrative';
