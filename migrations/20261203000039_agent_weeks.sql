-- The agent rollup by UTC week (Monday to Monday): rollup_agent_daily's rows summed per
-- (workspace, week, department, agent, model), histograms merged. Written by the same code
-- from the same deltas in the same transaction as the other rollups
-- (argus_domain::ingest::rollup); the rebuild path and retention recompute the weeks they
-- touch from rollup_agent_daily (argus_rebuild_agent_weeks).
--
-- The reads of a daily window that merge histograms per agent and model — the performance
-- page's slowest agents and models and its distribution — read every day of every agent and
-- model: on the 10 M-trace benchmark 90 days are 7,200 rows (~12.5 ms of PostgreSQL, a row
-- costing more than its bytes). Whole weeks from here and only the edge days from the daily
-- rollup read ≤ 24 rows per agent and model instead of 90.
CREATE TABLE rollup_agent_weekly (LIKE rollup_agent_daily INCLUDING ALL);
ALTER TABLE rollup_agent_weekly
    ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
ALTER TABLE rollup_agent_weekly ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_agent_weekly FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON rollup_agent_weekly
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_agent_weekly TO argus_app;

-- Replaces the rows of the weeks from the one holding `from` up to `to` (exclusive) by the
-- sums of rollup_agent_daily, set-wise (histograms merged entry by entry): of one workspace,
-- or of every workspace when `ws` is NULL (and of every week when `from` and `to` are NULL).
-- Runs as its caller: under row-level security it sees the caller's workspace only.
CREATE FUNCTION argus_rebuild_agent_weeks(ws uuid, "from" timestamptz, "to" timestamptz)
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    lo timestamptz := date_trunc('week', coalesce("from", '-infinity'), 'UTC');
    hi timestamptz := coalesce("to", 'infinity');
BEGIN
    DELETE FROM rollup_agent_weekly
    WHERE (ws IS NULL OR workspace_id = ws) AND bucket >= lo AND bucket < hi;
    WITH days AS (
        SELECT *, date_trunc('week', bucket, 'UTC') AS week FROM rollup_agent_daily
        WHERE (ws IS NULL OR workspace_id = ws) AND bucket >= lo
          AND date_trunc('week', bucket, 'UTC') < hi),
    sums AS (
        SELECT workspace_id, week, department, agent, model,
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
        FROM days GROUP BY 1, 2, 3, 4, 5),
    entries AS (
        SELECT workspace_id, week, department, agent, model, 't' AS kind, e.idx AS k,
               sum(e.n) AS n
        FROM days, argus_hist_bin_entries(trace_latency_hist) AS e GROUP BY 1, 2, 3, 4, 5, 7
        UNION ALL
        SELECT workspace_id, week, department, agent, model, 's', e.idx, sum(e.n)
        FROM days, argus_hist_bin_entries(span_latency_hist) AS e GROUP BY 1, 2, 3, 4, 5, 7),
    hists AS (
        SELECT workspace_id, week, department, agent, model,
               string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                   FILTER (WHERE kind = 't' AND n <> 0) AS trace_hist,
               string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                   FILTER (WHERE kind = 's' AND n <> 0) AS span_hist
        FROM entries GROUP BY 1, 2, 3, 4, 5)
    INSERT INTO rollup_agent_weekly (workspace_id, bucket, department, agent, model, traces,
        trace_errors, trace_latency_sum_us, trace_latency_min_us, trace_latency_max_us,
        trace_latency_hist, spans, span_errors, input_tokens, output_tokens, cache_read_tokens,
        cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_spans, span_latency_sum_us,
        span_latency_hist)
    SELECT s.workspace_id, s.week, s.department, s.agent, s.model, s.traces, s.trace_errors,
        s.trace_latency_sum_us, s.trace_latency_min_us, s.trace_latency_max_us,
        argus_hist_pack(coalesce(h.trace_hist, '')), s.spans, s.span_errors, s.input_tokens,
        s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens, s.reasoning_tokens,
        s.cost_usd, s.unpriced_spans, s.span_latency_sum_us,
        argus_hist_pack(coalesce(h.span_hist, ''))
    FROM sums s LEFT JOIN hists h USING (workspace_id, week, department, agent, model)
    ORDER BY 1, 2, 3, 4, 5;
END
$fn$;

SELECT argus_rebuild_agent_weeks(NULL, NULL, NULL);
