-- A session's analysis is recorded once: a second one (a finish repeated
-- after a restart) is a duplicate the append drops, like a second report.
CREATE UNIQUE INDEX one_analysis_per_session ON events (session_id) WHERE kind = 'analysis';
