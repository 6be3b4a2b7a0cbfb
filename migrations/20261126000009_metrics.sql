-- GenAI client metrics (POST /v1/metrics): gen_ai.client.token.usage and
-- gen_ai.client.operation.duration, rolled up hourly and daily per (workspace, bucket,
-- department, agent, environment, version, model, provider, operation).
--
-- These rows are kept apart from the span rollups: many instrumentations export both spans and
-- metrics for the same calls. Readers take an agent's numbers from the span rollups for every
-- hour it sent spans, and from these rows only for hours it sent none (see
-- argus_domain::ingest::metrics::usage_by_agent), so the two are never summed.

CREATE TABLE metric_rollup_hourly (
    workspace_id    uuid        NOT NULL,
    bucket          timestamptz NOT NULL,
    department      text        NOT NULL,
    agent           text        NOT NULL,
    environment     text        NOT NULL,
    version         text        NOT NULL,
    model           text        NOT NULL,
    provider        text        NOT NULL,
    operation       text        NOT NULL,
    -- Calls: the count of gen_ai.client.operation.duration; errors: those with error.type.
    calls           bigint      NOT NULL DEFAULT 0,
    errors          bigint      NOT NULL DEFAULT 0,
    input_tokens    bigint      NOT NULL DEFAULT 0,
    output_tokens   bigint      NOT NULL DEFAULT 0,
    cost_usd        numeric(24, 10) NOT NULL DEFAULT 0,
    -- Tokens of a model with no price.
    unpriced_tokens bigint      NOT NULL DEFAULT 0,
    duration_sum_us bigint      NOT NULL DEFAULT 0,
    -- The same log-bucket histogram as the span rollups (OTLP buckets converted at their middle).
    duration_hist   jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (workspace_id, bucket, department, agent, environment, version, model, provider, operation)
);
CREATE INDEX metric_rollup_hourly_agent_idx ON metric_rollup_hourly (workspace_id, agent, bucket);
CREATE TABLE metric_rollup_daily (LIKE metric_rollup_hourly INCLUDING ALL);

-- The last data point seen per series (metric, resource, attributes): turns cumulative points
-- into increments, and makes a re-sent point (either temporality) count once.
CREATE TABLE metric_series (
    workspace_id    uuid        NOT NULL,
    series_id       bigint      NOT NULL,
    start_unix_nano bigint      NOT NULL,
    time_unix_nano  bigint      NOT NULL,
    count           bigint      NOT NULL,
    sum             float8      NOT NULL,
    -- The bucket layout (explicit bounds; or scale, offset, length): a change is a reset.
    bucket_layout   float8[]    NOT NULL,
    bucket_counts   bigint[]    NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, series_id)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['metric_rollup_hourly', 'metric_rollup_daily', 'metric_series'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON metric_rollup_hourly, metric_rollup_daily, metric_series
    TO argus_app;
