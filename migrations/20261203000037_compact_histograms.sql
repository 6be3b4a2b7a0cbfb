-- Compact binary histograms (issue 19: dashboard reads at 10 M traces).
--
-- Migration 0011's binary form spends 12 bytes on every non-empty bucket (index int4, count
-- int8). A day of one agent's traces fills ~160 neighbouring buckets with counts below 256:
-- 1.9 KB a histogram, which PostgreSQL compressed (lz4) to 1.1 KB in the row — and a 90-day
-- performance read decompressed, sent and parsed 3,600 of them (6.8 MB) on every uncached
-- call; LZ4_decompress_safe alone was the largest item of PostgreSQL's profile.
--
-- The form argus_domain::histogram::Histogram::to_bytes writes from now on: one tag byte,
-- then either
--   dense  (tag w):        the lowest non-empty index as a big-endian uint16, then the count
--                          of every bucket up to the highest non-empty one;
--   sparse (tag 16 + w):   per non-empty bucket its index (big-endian uint16) and its count;
-- counts big-endian unsigned in w ∈ {1, 2, 4, 8} bytes, the fewest that hold the largest;
-- whichever form is shorter. The day above takes ~170 bytes, inline and uncompressed. The
-- 12-byte form starts with a zero byte (no index reaches 2^24), so every reader tells the
-- three apart, and rows written before this migration stay readable as they are; they are
-- rewritten below all the same, so reads get the gain at once.

-- Encodes sorted, distinct indices (≤ 2400) with positive counts.
CREATE FUNCTION argus_hist_encode(idx int[], n bigint[]) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
DECLARE
    c   int := coalesce(cardinality(idx), 0);
    mx  bigint := 0;
    w   int;
    hex text;
    j   int := 1;
BEGIN
    IF c = 0 THEN
        RETURN ''::bytea;
    END IF;
    FOR i IN 1..c LOOP
        mx := greatest(mx, n[i]);
    END LOOP;
    w := CASE WHEN mx < 256 THEN 1 WHEN mx < 65536 THEN 2 WHEN mx < 4294967296 THEN 4 ELSE 8 END;
    IF 3 + (idx[c] - idx[1] + 1) * w <= 1 + c * (2 + w) THEN
        hex := lpad(to_hex(w), 2, '0') || lpad(to_hex(idx[1]), 4, '0');
        FOR k IN idx[1]..idx[c] LOOP
            IF idx[j] = k THEN
                hex := hex || lpad(to_hex(n[j]), 2 * w, '0');
                j := j + 1;
            ELSE
                hex := hex || repeat('0', 2 * w);
            END IF;
        END LOOP;
    ELSE
        hex := to_hex(16 + w);
        FOR i IN 1..c LOOP
            hex := hex || lpad(to_hex(idx[i]), 4, '0') || lpad(to_hex(n[i]), 2 * w, '0');
        END LOOP;
    END IF;
    RETURN decode(hex, 'hex');
END
$$;

-- A binary histogram's non-empty entries, in any of the three forms (a trailing partial
-- entry and an unknown tag read as nothing, as in Rust).
CREATE OR REPLACE FUNCTION argus_hist_bin_entries(h bytea) RETURNS TABLE (idx int, n bigint)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        -- Every get_byte is guarded by a CASE on the length or indexed by a row of
        -- generate_series: the planner folds a call on a constant argument before it knows
        -- whether any row needs it.
        WITH f AS (
            SELECT CASE WHEN coalesce(length(h), 0) = 0 THEN -1 ELSE get_byte(h, 0) END AS tag,
                   CASE WHEN coalesce(length(h), 0) >= 3
                        THEN get_byte(h, 1) * 256 + get_byte(h, 2) ELSE 0 END AS lo,
                   coalesce(length(h), 0) AS len)
        SELECT ('x' || encode(substring(h FROM i * 12 + 1 FOR 4), 'hex'))::bit(32)::int,
               ('x' || encode(substring(h FROM i * 12 + 5 FOR 8), 'hex'))::bit(64)::bigint
        FROM f, generate_series(0, CASE WHEN f.tag = 0 THEN f.len / 12 - 1 ELSE -1 END) AS i
        UNION ALL
        SELECT idx, n FROM (
            SELECT f.lo + i AS idx,
                   ('x' || lpad(encode(substring(h FROM 4 + i * f.tag FOR f.tag), 'hex'), 16, '0'))
                       ::bit(64)::bigint AS n
            FROM f, generate_series(0, CASE WHEN f.tag IN (1, 2, 4, 8)
                                            THEN (f.len - 3) / f.tag - 1 ELSE -1 END) AS i
        ) AS dense
        WHERE n <> 0
        UNION ALL
        SELECT get_byte(h, 1 + i * (f.tag - 14)) * 256 + get_byte(h, 2 + i * (f.tag - 14)),
               ('x' || lpad(encode(substring(h FROM 4 + i * (f.tag - 14) FOR f.tag - 16), 'hex'),
                            16, '0'))::bit(64)::bigint
        FROM f, generate_series(0, CASE WHEN f.tag IN (17, 18, 20, 24)
                                        THEN (f.len - 1) / (f.tag - 14) - 1 ELSE -1 END) AS i
    $$;

-- Any binary histogram in the compact form.
CREATE FUNCTION argus_hist_pack(h bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT argus_hist_encode(array_agg(k ORDER BY k), array_agg(n ORDER BY k))
        FROM (SELECT least(idx, 2400) AS k, sum(n)::bigint AS n
              FROM argus_hist_bin_entries(h) GROUP BY 1 HAVING sum(n) > 0) AS e
    $$;

-- The sum of two binary histograms (any forms), compact.
CREATE OR REPLACE FUNCTION argus_hist_bin_merge(a bytea, b bytea) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT argus_hist_encode(array_agg(k ORDER BY k), array_agg(n ORDER BY k))
        FROM (SELECT least(idx, 2400) AS k, sum(n)::bigint AS n
              FROM (SELECT * FROM argus_hist_bin_entries(a)
                    UNION ALL
                    SELECT * FROM argus_hist_bin_entries(b)) AS both_sides
              GROUP BY 1 HAVING sum(n) > 0) AS e
    $$;

-- The compact binary form of a {"index": count} histogram.
CREATE OR REPLACE FUNCTION argus_hist_to_bin(h jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT argus_hist_encode(array_agg(k ORDER BY k), array_agg(n ORDER BY k))
        FROM (SELECT least(key::int, 2400) AS k, sum(value::bigint)::bigint AS n
              FROM jsonb_each_text(coalesce(h, '{}'::jsonb)) GROUP BY 1
              HAVING sum(value::bigint) > 0) AS e
    $$;

-- Rewrites a rollup table's histograms still in the 12-byte form (the rebuilds below write
-- it: argus_domain::ingest::rollup::rebuild_derived packs after them).
CREATE FUNCTION argus_pack_histograms(t regclass) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    EXECUTE format($sql$
        UPDATE %s SET trace_latency_hist = argus_hist_pack(trace_latency_hist),
                      span_latency_hist = argus_hist_pack(span_latency_hist)
        WHERE substring(trace_latency_hist FROM 1 FOR 1) = '\x00'::bytea
           OR substring(span_latency_hist FROM 1 FOR 1) = '\x00'::bytea
    $sql$, t);
END
$fn$;

SELECT argus_pack_histograms(t)
FROM unnest(ARRAY['rollup_minute', 'rollup_hourly', 'rollup_daily', 'rollup_total_hourly',
                  'rollup_total_daily', 'rollup_agent_hourly', 'rollup_agent_daily',
                  'rollup_scope_hourly', 'rollup_scope_daily']::regclass[]) AS t;
