-- Scores: what a person, an evaluator, an API client or an OpenTelemetry evaluation event said
-- about a trace, a span or a session; and the workspace's score configs, which name a score's
-- type and bounds. A config is archived, never edited: a score keeps the config it was checked
-- against, so old scores keep their meaning.

CREATE TABLE score_configs (
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                uuid        NOT NULL,
    name              text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    data_type         text        NOT NULL
                                  CHECK (data_type IN ('numeric', 'boolean', 'categorical', 'text')),
    -- Numeric only: the allowed range (either end open when NULL).
    min_value         double precision,
    max_value         double precision,
    -- Categorical only: [{"label": "good", "value": 1}, …].
    categories        jsonb,
    -- Which direction is better (NULL: neither, e.g. a text comment).
    higher_is_better  boolean,
    description       text,
    created_by        uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    archived_at       timestamptz,
    PRIMARY KEY (workspace_id, id),
    CHECK (min_value IS NULL OR max_value IS NULL OR min_value <= max_value)
);
-- One live config per score name.
CREATE UNIQUE INDEX score_configs_live_name_idx ON score_configs (workspace_id, name)
    WHERE archived_at IS NULL;

CREATE TABLE scores (
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                uuid        NOT NULL,
    -- The target: a trace, a span of a trace, or a session (exactly one).
    trace_id          text        CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    span_id           text        CHECK (span_id ~ '^[0-9a-f]{16}$'),
    session_id        text        CHECK (length(session_id) <= 200),
    name              text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    data_type         text        NOT NULL
                                  CHECK (data_type IN ('numeric', 'boolean', 'categorical', 'text')),
    -- numeric: the number; boolean: 1 or 0; categorical: the category's value, if it has one.
    value             double precision,
    -- categorical: the label; boolean: 'true' or 'false'; text: the text; numeric: a label the
    -- evaluator gave with the number ('relevant'), if any.
    string_value      text        CHECK (length(string_value) <= 10000),
    explanation       text        CHECK (length(explanation) <= 10000),
    source            text        NOT NULL CHECK (source IN ('api', 'annotation', 'evaluator', 'otel')),
    -- Who or what produced it.
    author_user_id    uuid,
    api_key_id        uuid,
    evaluator_id      uuid,
    evaluator_version integer,
    judge_model       text,
    config_id         uuid,
    -- The trace's dimensions when the score was stored, for analytics by agent and version.
    agent             text,
    department        text,
    environment       text,
    version           text,
    scored_at         timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CHECK (span_id IS NULL OR trace_id IS NOT NULL),
    CHECK ((trace_id IS NULL) <> (session_id IS NULL)),
    CHECK (value IS NULL OR (value = value AND value NOT IN ('Infinity', '-Infinity')))
);
CREATE INDEX scores_time_idx ON scores (workspace_id, scored_at DESC, id DESC);
CREATE INDEX scores_trace_idx ON scores (workspace_id, trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX scores_session_idx ON scores (workspace_id, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX scores_name_time_idx ON scores (workspace_id, name, scored_at DESC);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['score_configs', 'scores'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON score_configs, scores TO argus_app;

-- An OpenTelemetry evaluation result may name only the completion it judged
-- (gen_ai.response.id): find its span without scanning.
CREATE INDEX spans_response_id_idx ON spans (workspace_id, (attributes ->> 'gen_ai.response.id'))
    WHERE attributes ? 'gen_ai.response.id';

-- API keys may hold the `score` scope: write scores, read nothing else.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['ingest', 'read', 'admin', 'score'] AND cardinality(scopes) > 0);
