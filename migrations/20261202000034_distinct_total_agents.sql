-- The totals' rebuild (migrations 0011 and 0032) built each bucket's agent set with
-- json_object_agg over the detailed rows, which keeps a key once per row: an agent with 12
-- (environment, version, model) rows in an hour was listed 12 times (the 10 M-trace benchmark's
-- hours held 477 keys for 40 agents, 7.5 KB each, and reading a week of them cost the KPIs
-- ~5 ms of parsing). Ingest writes each agent once; the set's meaning was right (readers count
-- distinct names), its size was not. The rebuild now lists each agent once, and the rows it
-- wrote are rewritten with their distinct keys.
CREATE OR REPLACE FUNCTION argus_rebuild_totals(detail regclass, total regclass) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    EXECUTE format('DELETE FROM %s', total);
    EXECUTE format($sql$
        WITH sums AS (
            SELECT workspace_id, bucket,
                   sum(traces) AS traces, sum(trace_errors) AS trace_errors,
                   sum(trace_latency_sum_us) AS trace_latency_sum_us,
                   sum(spans) AS spans, sum(span_errors) AS span_errors,
                   sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                   sum(cache_read_tokens) AS cache_read_tokens,
                   sum(cache_creation_tokens) AS cache_creation_tokens,
                   sum(reasoning_tokens) AS reasoning_tokens, sum(cost_usd) AS cost_usd,
                   sum(unpriced_spans) AS unpriced_spans,
                   sum(span_latency_sum_us) AS span_latency_sum_us,
                   coalesce(jsonb_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0)::json,
                            '{}') AS agents
            FROM %1$s GROUP BY 1, 2),
        entries AS (
            SELECT workspace_id, bucket, 't' AS kind, e.idx AS k, sum(e.n) AS n
            FROM %1$s, argus_hist_bin_entries(trace_latency_hist) AS e GROUP BY 1, 2, 4
            UNION ALL
            SELECT workspace_id, bucket, 's', e.idx, sum(e.n)
            FROM %1$s, argus_hist_bin_entries(span_latency_hist) AS e GROUP BY 1, 2, 4),
        hists AS (
            SELECT workspace_id, bucket,
                   string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                       FILTER (WHERE kind = 't' AND n <> 0) AS trace_hist,
                   string_agg(int4send(k) || int8send(n::bigint), ''::bytea ORDER BY k)
                       FILTER (WHERE kind = 's' AND n <> 0) AS span_hist
            FROM entries GROUP BY 1, 2)
        INSERT INTO %2$s (workspace_id, bucket, traces, trace_errors, trace_latency_sum_us,
            spans, span_errors, input_tokens, output_tokens, cache_read_tokens,
            cache_creation_tokens, reasoning_tokens, cost_usd, unpriced_spans,
            span_latency_sum_us, trace_latency_hist, span_latency_hist, agents)
        SELECT s.workspace_id, s.bucket, s.traces, s.trace_errors, s.trace_latency_sum_us,
            s.spans, s.span_errors, s.input_tokens, s.output_tokens, s.cache_read_tokens,
            s.cache_creation_tokens, s.reasoning_tokens, s.cost_usd, s.unpriced_spans,
            s.span_latency_sum_us, coalesce(h.trace_hist, ''), coalesce(h.span_hist, ''), s.agents
        FROM sums s LEFT JOIN hists h USING (workspace_id, bucket)
    $sql$, detail, total);
END
$fn$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rollup_total_hourly', 'rollup_total_daily'] LOOP
        EXECUTE format(
            'UPDATE %I SET agents = (SELECT coalesce(json_object_agg(k, 1), ''{}'') '
            'FROM (SELECT DISTINCT json_object_keys(agents) AS k) keys) '
            'WHERE (SELECT count(*) FROM json_object_keys(agents)) '
            '<> (SELECT count(DISTINCT k) FROM json_object_keys(agents) AS k)', t);
    END LOOP;
END
$$;
