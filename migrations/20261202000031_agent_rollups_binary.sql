-- The agent rollups store their latency histograms in binary, as the workspace totals do
-- (migration 0011: per non-empty bucket in index order, the index as int4 and the count as
-- int8). The dashboard reads thousands of these rows uncached (the performance page over
-- 90 days: 7,300 on the 10 M-trace benchmark); as jsonb each histogram was rendered to text by
-- PostgreSQL and parsed back by the server. Ingest merges them in Rust under the row lock
-- (argus_domain::ingest::rollup), as it does the totals'.
ALTER TABLE rollup_agent_hourly
    ALTER COLUMN trace_latency_hist DROP DEFAULT,
    ALTER COLUMN trace_latency_hist TYPE bytea USING argus_hist_to_bin(trace_latency_hist),
    ALTER COLUMN trace_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN trace_latency_hist SET COMPRESSION lz4,
    ALTER COLUMN span_latency_hist DROP DEFAULT,
    ALTER COLUMN span_latency_hist TYPE bytea USING argus_hist_to_bin(span_latency_hist),
    ALTER COLUMN span_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN span_latency_hist SET COMPRESSION lz4;

ALTER TABLE rollup_agent_daily
    ALTER COLUMN trace_latency_hist DROP DEFAULT,
    ALTER COLUMN trace_latency_hist TYPE bytea USING argus_hist_to_bin(trace_latency_hist),
    ALTER COLUMN trace_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN trace_latency_hist SET COMPRESSION lz4,
    ALTER COLUMN span_latency_hist DROP DEFAULT,
    ALTER COLUMN span_latency_hist TYPE bytea USING argus_hist_to_bin(span_latency_hist),
    ALTER COLUMN span_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN span_latency_hist SET COMPRESSION lz4;

-- Migration 0030's rebuild, writing binary histograms.
CREATE OR REPLACE FUNCTION argus_rebuild_agent_rollup(detail regclass, agent regclass) RETURNS void
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
            SELECT workspace_id, bucket, department, agent, model, 't' AS kind,
                   e.key::int AS k, sum(e.value::bigint) AS n
            FROM %1$s, jsonb_each_text(trace_latency_hist) AS e GROUP BY 1, 2, 3, 4, 5, 7
            UNION ALL
            SELECT workspace_id, bucket, department, agent, model, 's', e.key::int,
                   sum(e.value::bigint)
            FROM %1$s, jsonb_each_text(span_latency_hist) AS e GROUP BY 1, 2, 3, 4, 5, 7),
        hists AS (
            SELECT workspace_id, bucket, department, agent, model,
                   string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                       FILTER (WHERE kind = 't' AND n <> 0) AS trace_hist,
                   string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                       FILTER (WHERE kind = 's' AND n <> 0) AS span_hist
            FROM entries GROUP BY 1, 2, 3, 4, 5)
        INSERT INTO %2$s (workspace_id, bucket, department, agent, model, traces, trace_errors,
            trace_latency_sum_us, trace_latency_min_us, trace_latency_max_us, trace_latency_hist,
            spans, span_errors, input_tokens, output_tokens, cache_read_tokens,
            cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_spans,
            span_latency_sum_us, span_latency_hist)
        SELECT s.workspace_id, s.bucket, s.department, s.agent, s.model, s.traces,
            s.trace_errors, s.trace_latency_sum_us, s.trace_latency_min_us,
            s.trace_latency_max_us, coalesce(h.trace_hist, ''), s.spans, s.span_errors,
            s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens,
            s.reasoning_tokens, s.cost_usd, s.unpriced_spans, s.span_latency_sum_us,
            coalesce(h.span_hist, '')
        FROM sums s LEFT JOIN hists h USING (workspace_id, bucket, department, agent, model)
    $sql$, detail, agent);
END
$fn$;
