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
    END LOOP;
END
$$;

-- The totals of the data already stored (histograms summed entry by entry: linear, unlike
-- folding argus_hist_merge over the rows).
WITH sums AS (
    SELECT workspace_id, bucket,
           sum(traces) AS traces,
           sum(trace_errors) AS trace_errors,
           sum(trace_latency_sum_us) AS trace_latency_sum_us,
           sum(spans) AS spans,
           sum(span_errors) AS span_errors,
           sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens,
           sum(cache_read_tokens) AS cache_read_tokens,
           sum(cache_creation_tokens) AS cache_creation_tokens,
           sum(reasoning_tokens) AS reasoning_tokens,
           sum(cost_usd) AS cost_usd,
           sum(unpriced_spans) AS unpriced_spans,
           sum(span_latency_sum_us) AS span_latency_sum_us,
           coalesce(jsonb_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0), '{}') AS agents
    FROM rollup_hourly GROUP BY 1, 2),
trace_hist AS (
    SELECT workspace_id, bucket, jsonb_object_agg(k, n) AS h
    FROM (SELECT workspace_id, bucket, e.key AS k, sum(e.value::bigint) AS n
          FROM rollup_hourly, jsonb_each_text(trace_latency_hist) AS e GROUP BY 1, 2, 3) AS entries
    GROUP BY 1, 2),
span_hist AS (
    SELECT workspace_id, bucket, jsonb_object_agg(k, n) AS h
    FROM (SELECT workspace_id, bucket, e.key AS k, sum(e.value::bigint) AS n
          FROM rollup_hourly, jsonb_each_text(span_latency_hist) AS e GROUP BY 1, 2, 3) AS entries
    GROUP BY 1, 2)
INSERT INTO rollup_total_hourly (workspace_id, bucket, traces, trace_errors, trace_latency_sum_us, spans, span_errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_spans, span_latency_sum_us, trace_latency_hist, span_latency_hist, agents)
SELECT s.workspace_id, s.bucket, s.traces, s.trace_errors, s.trace_latency_sum_us, s.spans, s.span_errors, s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens, s.reasoning_tokens, s.cost_usd, s.unpriced_spans, s.span_latency_sum_us,
       coalesce(t.h, '{}'), coalesce(p.h, '{}'), s.agents
FROM sums s
LEFT JOIN trace_hist t USING (workspace_id, bucket)
LEFT JOIN span_hist p USING (workspace_id, bucket);

WITH sums AS (
    SELECT workspace_id, bucket,
           sum(traces) AS traces,
           sum(trace_errors) AS trace_errors,
           sum(trace_latency_sum_us) AS trace_latency_sum_us,
           sum(spans) AS spans,
           sum(span_errors) AS span_errors,
           sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens,
           sum(cache_read_tokens) AS cache_read_tokens,
           sum(cache_creation_tokens) AS cache_creation_tokens,
           sum(reasoning_tokens) AS reasoning_tokens,
           sum(cost_usd) AS cost_usd,
           sum(unpriced_spans) AS unpriced_spans,
           sum(span_latency_sum_us) AS span_latency_sum_us,
           coalesce(jsonb_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0), '{}') AS agents
    FROM rollup_daily GROUP BY 1, 2),
trace_hist AS (
    SELECT workspace_id, bucket, jsonb_object_agg(k, n) AS h
    FROM (SELECT workspace_id, bucket, e.key AS k, sum(e.value::bigint) AS n
          FROM rollup_daily, jsonb_each_text(trace_latency_hist) AS e GROUP BY 1, 2, 3) AS entries
    GROUP BY 1, 2),
span_hist AS (
    SELECT workspace_id, bucket, jsonb_object_agg(k, n) AS h
    FROM (SELECT workspace_id, bucket, e.key AS k, sum(e.value::bigint) AS n
          FROM rollup_daily, jsonb_each_text(span_latency_hist) AS e GROUP BY 1, 2, 3) AS entries
    GROUP BY 1, 2)
INSERT INTO rollup_total_daily (workspace_id, bucket, traces, trace_errors, trace_latency_sum_us, spans, span_errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_spans, span_latency_sum_us, trace_latency_hist, span_latency_hist, agents)
SELECT s.workspace_id, s.bucket, s.traces, s.trace_errors, s.trace_latency_sum_us, s.spans, s.span_errors, s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens, s.reasoning_tokens, s.cost_usd, s.unpriced_spans, s.span_latency_sum_us,
       coalesce(t.h, '{}'), coalesce(p.h, '{}'), s.agents
FROM sums s
LEFT JOIN trace_hist t USING (workspace_id, bucket)
LEFT JOIN span_hist p USING (workspace_id, bucket);

GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_total_hourly, rollup_total_daily TO argus_app;
