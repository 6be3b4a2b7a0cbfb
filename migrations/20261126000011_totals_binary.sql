-- The workspace totals store their latency histograms in binary and their agent sets as json.
--
-- The dashboard reads whole rows of them on every uncached unfiltered read (336 rows for a
-- week and the week before). As jsonb, each ~160-entry histogram was rendered to text by the
-- server (~40 µs a row) and parsed back by the client: most of a 7-day read. In binary a
-- histogram is its non-empty buckets in index order, 12 bytes each: the bucket index as a
-- big-endian int4 and its count as a big-endian int8 (what int4send/int8send produce), read
-- by argus_domain::histogram::Histogram::from_bytes without parsing. The agent sets become
-- json (sent as stored, not rendered). The detailed rollups keep jsonb.

-- A binary histogram's entries.
CREATE FUNCTION argus_hist_bin_entries(h bytea) RETURNS TABLE (idx int, n bigint)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT ('x' || encode(substring(h FROM i * 12 + 1 FOR 4), 'hex'))::bit(32)::int,
               ('x' || encode(substring(h FROM i * 12 + 5 FOR 8), 'hex'))::bit(64)::bigint
        FROM generate_series(0, coalesce(length(h), 0) / 12 - 1) AS i
    $$;

-- The binary form of a {"index": count} histogram.
CREATE FUNCTION argus_hist_to_bin(h jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(string_agg(int4send(key::int) || int8send(value::bigint), ''::bytea
                                   ORDER BY key::int), ''::bytea)
        FROM jsonb_each_text(coalesce(h, '{}'::jsonb))
        WHERE value::bigint <> 0
    $$;

-- The {"index": count} form of a binary histogram (for comparisons and reading by hand).
CREATE FUNCTION argus_hist_from_bin(h bytea) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(jsonb_object_agg(idx::text, n), '{}'::jsonb) FROM argus_hist_bin_entries(h)
    $$;

-- The sum of two binary histograms.
CREATE FUNCTION argus_hist_bin_merge(a bytea, b bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(string_agg(int4send(idx) || int8send(n), ''::bytea ORDER BY idx), ''::bytea)
        FROM (
            SELECT idx, sum(n)::bigint AS n
            FROM (SELECT * FROM argus_hist_bin_entries(a)
                  UNION ALL
                  SELECT * FROM argus_hist_bin_entries(b)) AS both_sides
            GROUP BY idx
        ) AS merged
    $$;

ALTER TABLE rollup_total_hourly
    ALTER COLUMN trace_latency_hist DROP DEFAULT,
    ALTER COLUMN trace_latency_hist TYPE bytea USING argus_hist_to_bin(trace_latency_hist),
    ALTER COLUMN trace_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN span_latency_hist DROP DEFAULT,
    ALTER COLUMN span_latency_hist TYPE bytea USING argus_hist_to_bin(span_latency_hist),
    ALTER COLUMN span_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN agents DROP DEFAULT,
    ALTER COLUMN agents TYPE json USING agents::json,
    ALTER COLUMN agents SET DEFAULT '{}';

ALTER TABLE rollup_total_daily
    ALTER COLUMN trace_latency_hist DROP DEFAULT,
    ALTER COLUMN trace_latency_hist TYPE bytea USING argus_hist_to_bin(trace_latency_hist),
    ALTER COLUMN trace_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN span_latency_hist DROP DEFAULT,
    ALTER COLUMN span_latency_hist TYPE bytea USING argus_hist_to_bin(span_latency_hist),
    ALTER COLUMN span_latency_hist SET DEFAULT ''::bytea,
    ALTER COLUMN agents DROP DEFAULT,
    ALTER COLUMN agents TYPE json USING agents::json,
    ALTER COLUMN agents SET DEFAULT '{}';

-- Small rows: lz4 decompresses several times faster than the default pglz when one is
-- compressed at all.
ALTER TABLE rollup_total_hourly
    ALTER COLUMN trace_latency_hist SET COMPRESSION lz4,
    ALTER COLUMN span_latency_hist SET COMPRESSION lz4;
ALTER TABLE rollup_total_daily
    ALTER COLUMN trace_latency_hist SET COMPRESSION lz4,
    ALTER COLUMN span_latency_hist SET COMPRESSION lz4;

-- Replaces every workspace's totals of one granularity by the sums of its rollups, set-wise
-- (histograms summed entry by entry: linear in the rollup rows). For tools that write rollups
-- in bulk (the dashboard benchmark) and for tests; see argus_domain::ingest::rollup.
CREATE FUNCTION argus_rebuild_totals(detail regclass, total regclass) RETURNS void
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
                   coalesce(json_object_agg(agent, 1) FILTER (WHERE traces > 0 OR spans > 0),
                            '{}') AS agents
            FROM %1$s GROUP BY 1, 2),
        entries AS (
            SELECT workspace_id, bucket, 't' AS kind, e.key::int AS k, sum(e.value::bigint) AS n
            FROM %1$s, jsonb_each_text(trace_latency_hist) AS e GROUP BY 1, 2, 4
            UNION ALL
            SELECT workspace_id, bucket, 's', e.key::int, sum(e.value::bigint)
            FROM %1$s, jsonb_each_text(span_latency_hist) AS e GROUP BY 1, 2, 4),
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
