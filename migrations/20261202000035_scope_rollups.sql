-- The rollups per (workspace, bucket, department, environment): every measure of the detailed
-- rollups with the agent, version and model dimensions summed, and the set of agents active in
-- the row (as the workspace totals keep it). Written by the same code from the same deltas in
-- the same transaction as the other rollups (argus_domain::ingest::rollup).
--
-- The dashboard's KPIs and series filtered by a department and/or an environment (and nothing
-- else) read the detailed rollup otherwise: on the 10 M-trace benchmark a week of one
-- department in one environment is ~6,400 hourly rows with two histograms each (20–40 ms over
-- HTTP); here it is 168 rows, a department alone 504, an environment alone 1,344.
CREATE TABLE rollup_scope_hourly (
    workspace_id          uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bucket                timestamptz NOT NULL,
    department            text        NOT NULL,
    environment           text        NOT NULL,
    traces                bigint      NOT NULL DEFAULT 0,
    trace_errors          bigint      NOT NULL DEFAULT 0,
    trace_latency_sum_us  bigint      NOT NULL DEFAULT 0,
    trace_latency_min_us  bigint,
    trace_latency_max_us  bigint,
    trace_latency_hist    bytea       NOT NULL DEFAULT '',
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
    span_latency_hist     bytea       NOT NULL DEFAULT '',
    -- The agents with a trace or a span in the row, as {"agent": 1, …}.
    agents                jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (workspace_id, bucket, department, environment)
);
CREATE TABLE rollup_scope_daily (LIKE rollup_scope_hourly INCLUDING ALL);
ALTER TABLE rollup_scope_daily
    ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rollup_scope_hourly', 'rollup_scope_daily'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_scope_hourly, rollup_scope_daily TO argus_app;

-- Replaces every workspace's rows of one scope rollup by the sums of its detailed rollup,
-- set-wise (histograms summed entry by entry, each agent listed once). For tools that write
-- rollups in bulk (the dashboard benchmark), for tests, and below.
CREATE FUNCTION argus_rebuild_scope_rollup(detail regclass, scope regclass) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    EXECUTE format('DELETE FROM %s', scope);
    EXECUTE format($sql$
        WITH sums AS (
            SELECT workspace_id, bucket, department, environment,
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
                   sum(span_latency_sum_us) AS span_latency_sum_us,
                   coalesce(jsonb_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0),
                            '{}') AS agents
            FROM %1$s GROUP BY 1, 2, 3, 4),
        entries AS (
            SELECT workspace_id, bucket, department, environment, 't' AS kind, e.idx AS k,
                   sum(e.n) AS n
            FROM %1$s, argus_hist_bin_entries(trace_latency_hist) AS e GROUP BY 1, 2, 3, 4, 6
            UNION ALL
            SELECT workspace_id, bucket, department, environment, 's', e.idx, sum(e.n)
            FROM %1$s, argus_hist_bin_entries(span_latency_hist) AS e GROUP BY 1, 2, 3, 4, 6),
        hists AS (
            SELECT workspace_id, bucket, department, environment,
                   string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                       FILTER (WHERE kind = 't' AND n <> 0) AS trace_hist,
                   string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                       FILTER (WHERE kind = 's' AND n <> 0) AS span_hist
            FROM entries GROUP BY 1, 2, 3, 4)
        INSERT INTO %2$s (workspace_id, bucket, department, environment, traces, trace_errors,
            trace_latency_sum_us, trace_latency_min_us, trace_latency_max_us, spans,
            span_errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
            reasoning_tokens, cost_usd, unpriced_spans, span_latency_sum_us,
            trace_latency_hist, span_latency_hist, agents)
        SELECT s.workspace_id, s.bucket, s.department, s.environment, s.traces,
            s.trace_errors, s.trace_latency_sum_us, s.trace_latency_min_us,
            s.trace_latency_max_us, s.spans, s.span_errors, s.input_tokens, s.output_tokens,
            s.cache_read_tokens, s.cache_creation_tokens, s.reasoning_tokens, s.cost_usd,
            s.unpriced_spans, s.span_latency_sum_us, coalesce(h.trace_hist, ''),
            coalesce(h.span_hist, ''), s.agents
        FROM sums s LEFT JOIN hists h USING (workspace_id, bucket, department, environment)
        ORDER BY 1, 2, 3, 4
    $sql$, detail, scope);
END
$fn$;

SELECT argus_rebuild_scope_rollup('rollup_hourly', 'rollup_scope_hourly'),
       argus_rebuild_scope_rollup('rollup_daily', 'rollup_scope_daily');
