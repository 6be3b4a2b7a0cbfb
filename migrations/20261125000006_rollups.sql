-- Hourly and daily rollups, maintained by the ingest transaction itself (so the still-open hour
-- is always current and data is visible the moment the export is acknowledged).
--
-- One row per (workspace, bucket, department, agent, environment, version, model):
--   model = ''  rows carry the trace-level measures (requests = traces, counted when the root
--               span arrives, with the root's latency; a trace becomes an error trace once it
--               has a root and an error span) plus the spans that have no model (tools, agents);
--   model = 'x' rows carry the spans of that model (LLM calls): tokens, cost, errors, latency.
-- Latency histograms are sparse {"bucket index": count} maps (see argus_domain::histogram:
-- log buckets, 1 % relative error), merged by adding counts.

CREATE FUNCTION argus_hist_merge(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
        FROM (
            SELECT k, sum(v::bigint) AS n
            FROM (
                SELECT key AS k, value AS v FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
                UNION ALL
                SELECT key, value FROM jsonb_each_text(coalesce(b, '{}'::jsonb))
            ) AS both_sides
            GROUP BY k
        ) AS merged
    $$;

CREATE TABLE rollup_hourly (
    workspace_id          uuid        NOT NULL,
    bucket                timestamptz NOT NULL,
    department            text        NOT NULL,
    agent                 text        NOT NULL,
    environment           text        NOT NULL,
    version               text        NOT NULL,
    model                 text        NOT NULL,
    traces                bigint      NOT NULL DEFAULT 0,
    trace_errors          bigint      NOT NULL DEFAULT 0,
    trace_latency_sum_us  bigint      NOT NULL DEFAULT 0,
    trace_latency_min_us  bigint,
    trace_latency_max_us  bigint,
    trace_latency_hist    jsonb       NOT NULL DEFAULT '{}',
    spans                 bigint      NOT NULL DEFAULT 0,
    span_errors           bigint      NOT NULL DEFAULT 0,
    input_tokens          bigint      NOT NULL DEFAULT 0,
    output_tokens         bigint      NOT NULL DEFAULT 0,
    cache_read_tokens     bigint      NOT NULL DEFAULT 0,
    cache_creation_tokens bigint      NOT NULL DEFAULT 0,
    reasoning_tokens      bigint      NOT NULL DEFAULT 0,
    cost_usd              numeric(24, 10) NOT NULL DEFAULT 0,
    unpriced_spans        bigint      NOT NULL DEFAULT 0,
    span_latency_sum_us   bigint      NOT NULL DEFAULT 0,
    span_latency_hist     jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (workspace_id, bucket, department, agent, environment, version, model)
);
CREATE INDEX rollup_hourly_time_idx ON rollup_hourly (workspace_id, bucket DESC);
CREATE INDEX rollup_hourly_department_idx ON rollup_hourly (workspace_id, department, bucket DESC);

CREATE TABLE rollup_daily (LIKE rollup_hourly INCLUDING ALL);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rollup_hourly', 'rollup_daily'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_hourly, rollup_daily TO argus_app;
