-- Workspace totals per hour and per day: the rollups with every dimension summed, written by
-- the same code in the same transactions (argus_domain::ingest::rollup::Rollups::write). The
-- dashboard's unfiltered reads use them: one row per bucket instead of one per (department,
-- agent, environment, version, model) — 168 rows for a week instead of tens of thousands.

-- The sum of latency histograms (see argus_hist_merge).
CREATE AGGREGATE argus_hist_sum(jsonb) (
    SFUNC = argus_hist_merge,
    STYPE = jsonb,
    INITCOND = '{}'
);

CREATE TABLE rollup_total_hourly (
    workspace_id          uuid        NOT NULL,
    bucket                timestamptz NOT NULL,
    traces                bigint      NOT NULL DEFAULT 0,
    trace_errors          bigint      NOT NULL DEFAULT 0,
    trace_latency_sum_us  bigint      NOT NULL DEFAULT 0,
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
    -- The agents with a trace or a span in the bucket, as {"agent": 1, …}.
    agents                jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (workspace_id, bucket)
);

CREATE TABLE rollup_total_daily (LIKE rollup_total_hourly INCLUDING ALL);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rollup_total_hourly', 'rollup_total_daily'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
        EXECUTE format(
            'INSERT INTO %I SELECT workspace_id, bucket, sum(traces), sum(trace_errors), '
            'sum(trace_latency_sum_us), argus_hist_sum(trace_latency_hist), sum(spans), '
            'sum(span_errors), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), '
            'sum(cache_creation_tokens), sum(reasoning_tokens), sum(cost_usd), sum(unpriced_spans), '
            'sum(span_latency_sum_us), argus_hist_sum(span_latency_hist), '
            'coalesce(jsonb_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0), ''{}'') '
            'FROM %I GROUP BY workspace_id, bucket',
            t, replace(t, 'total_', ''));
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_total_hourly, rollup_total_daily TO argus_app;
