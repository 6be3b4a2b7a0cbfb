-- The rollups without the environment and version dimensions: one row per (workspace, bucket,
-- department, agent, model), the same measures as rollup_hourly / rollup_daily. Written by the
-- same code from the same deltas in the same transaction (argus_domain::ingest::rollup).
--
-- Most dashboard reads filter by nothing, a department, an agent or a model, yet grouped the
-- detailed rollup (one row per bucket × department × agent × environment × version × model):
-- on the 10 M-trace benchmark a week is 73,000 hourly rows there and 12,300 here, 90 days
-- 42,800 daily rows there and 7,300 here. Reads with an environment or version filter, or
-- broken down by them, keep the detailed tables.
CREATE TABLE rollup_agent_hourly (
    workspace_id          uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bucket                timestamptz NOT NULL,
    department            text        NOT NULL,
    agent                 text        NOT NULL,
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
    PRIMARY KEY (workspace_id, bucket, department, agent, model)
);
CREATE TABLE rollup_agent_daily (LIKE rollup_agent_hourly INCLUDING ALL);
ALTER TABLE rollup_agent_daily
    ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rollup_agent_hourly', 'rollup_agent_daily'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_agent_hourly, rollup_agent_daily TO argus_app;

-- Replaces every workspace's rows of one agent rollup by the sums of its detailed rollup,
-- set-wise (histograms summed entry by entry: linear in the rows). For tools that write
-- rollups in bulk (the dashboard benchmark), for tests, and below.
CREATE FUNCTION argus_rebuild_agent_rollup(detail regclass, agent regclass) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    EXECUTE format('DELETE FROM %s', agent);
    EXECUTE format($sql$
        WITH sums AS (
            SELECT workspace_id, bucket, department, agent, model,
                   sum(traces) AS traces, sum(trace_errors) AS trace_errors,
                   sum(trace_latency_sum_us) AS trace_latency_sum_us,
                   min(trace_latency_min_us) AS trace_latency_min_us,
                   max(trace_latency_max_us) AS trace_latency_max_us,
                   sum(spans) AS spans, sum(span_errors) AS span_errors,
                   sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                   sum(cache_read_tokens) AS cache_read_tokens,
                   sum(cache_creation_tokens) AS cache_creation_tokens,
                   sum(reasoning_tokens) AS reasoning_tokens, sum(cost_usd) AS cost_usd,
                   sum(unpriced_spans) AS unpriced_spans,
                   sum(span_latency_sum_us) AS span_latency_sum_us
            FROM %1$s GROUP BY 1, 2, 3, 4, 5),
        entries AS (
            SELECT workspace_id, bucket, department, agent, model, 't' AS kind, e.key AS k,
                   sum(e.value::bigint) AS n
            FROM %1$s, jsonb_each_text(trace_latency_hist) AS e GROUP BY 1, 2, 3, 4, 5, 7
            UNION ALL
            SELECT workspace_id, bucket, department, agent, model, 's', e.key,
                   sum(e.value::bigint)
            FROM %1$s, jsonb_each_text(span_latency_hist) AS e GROUP BY 1, 2, 3, 4, 5, 7),
        hists AS (
            SELECT workspace_id, bucket, department, agent, model,
                   jsonb_object_agg(k, n) FILTER (WHERE kind = 't') AS trace_hist,
                   jsonb_object_agg(k, n) FILTER (WHERE kind = 's') AS span_hist
            FROM entries GROUP BY 1, 2, 3, 4, 5)
        INSERT INTO %2$s (workspace_id, bucket, department, agent, model, traces, trace_errors,
            trace_latency_sum_us, trace_latency_min_us, trace_latency_max_us, trace_latency_hist,
            spans, span_errors, input_tokens, output_tokens, cache_read_tokens,
            cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_spans,
            span_latency_sum_us, span_latency_hist)
        SELECT s.workspace_id, s.bucket, s.department, s.agent, s.model, s.traces,
            s.trace_errors, s.trace_latency_sum_us, s.trace_latency_min_us,
            s.trace_latency_max_us, coalesce(h.trace_hist, '{}'), s.spans, s.span_errors,
            s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens,
            s.reasoning_tokens, s.cost_usd, s.unpriced_spans, s.span_latency_sum_us,
            coalesce(h.span_hist, '{}')
        FROM sums s LEFT JOIN hists h USING (workspace_id, bucket, department, agent, model)
    $sql$, detail, agent);
END
$fn$;

SELECT argus_rebuild_agent_rollup('rollup_hourly', 'rollup_agent_hourly'),
       argus_rebuild_agent_rollup('rollup_daily', 'rollup_agent_daily');
