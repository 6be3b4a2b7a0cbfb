-- A mergeable histogram of numeric scores in the score rollups: 67 fixed bins shared by every
-- score name, so rows of any bucket, name or dimension add up bin by bin (and deletions take
-- away). The layout (domain/src/evals/histogram.rs draws the same edges):
--   bin 0: below 0
--   bins 1–20: [0, 1] in steps of 0.05, lower-closed ([0.95, 1] closed at both ends)
--   bins 21–38: (1, 10] in steps of 0.5, upper-closed
--   bins 39–56: (10, 100] in steps of 5
--   bins 57–65: (100, 1000] in steps of 100
--   bin 66: above 1000
-- so scores on 0–1, 1–5, 0–10 and 0–100 scales keep their own resolution (each whole rating
-- in a bin of its own), and a chart re-bins them to the score config's range.

CREATE FUNCTION argus_score_bin(v double precision) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE
            WHEN v < 0 THEN 0
            WHEN v <= 1 THEN 1 + least(floor(v * 20 + 1e-9)::integer, 19)
            WHEN v <= 10 THEN 21 + greatest(least(ceil((v - 1) * 2 - 1e-9)::integer - 1, 17), 0)
            WHEN v <= 100 THEN 39 + greatest(least(ceil((v - 10) / 5 - 1e-9)::integer - 1, 17), 0)
            WHEN v <= 1000 THEN 57 + greatest(least(ceil((v - 100) / 100 - 1e-9)::integer - 1, 8), 0)
            ELSE 66
        END
    $$;

-- The histogram of some values (NULLs left out): 67 counts, NULL when no value is given.
CREATE FUNCTION argus_score_hist(vs double precision[]) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE WHEN count(v) = 0 THEN NULL ELSE
            (SELECT array_agg(coalesce(c.n, 0) ORDER BY i) FROM generate_series(0, 66) i
             LEFT JOIN (SELECT argus_score_bin(x) AS bin, count(*) AS n FROM unnest(vs) x
                        WHERE x IS NOT NULL GROUP BY 1) c ON c.bin = i)
        END
        FROM unnest(vs) v
    $$;

-- a + sign × b, bin by bin (either may be NULL: no numbers).
CREATE FUNCTION argus_hist_add(a bigint[], b bigint[], sign bigint) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE
            WHEN b IS NULL THEN a
            WHEN a IS NULL THEN (SELECT array_agg(x * sign ORDER BY i)
                                 FROM unnest(b) WITH ORDINALITY AS u(x, i))
            ELSE (SELECT array_agg(coalesce(a[i], 0) + sign * coalesce(b[i], 0) ORDER BY i)
                  FROM generate_series(1, greatest(cardinality(a), cardinality(b))) i)
        END
    $$;

ALTER TABLE score_rollup_hourly ADD COLUMN hist bigint[];
ALTER TABLE score_rollup_daily ADD COLUMN hist bigint[];

-- Rows already there get theirs from their scores.
UPDATE score_rollup_hourly r SET hist = h.hist
FROM (SELECT s.workspace_id, date_trunc('hour', s.scored_at, 'UTC') AS bucket, s.name,
             coalesce(s.agent, '') AS agent, coalesce(s.department, '') AS department,
             coalesce(s.environment, '') AS environment, coalesce(s.version, '') AS version,
             argus_score_hist(array_agg(s.value)) AS hist
      FROM scores s WHERE s.data_type = 'numeric' GROUP BY 1, 2, 3, 4, 5, 6, 7) h
WHERE r.workspace_id = h.workspace_id AND r.bucket = h.bucket AND r.name = h.name
  AND r.label = '' AND r.agent = h.agent AND r.department = h.department
  AND r.environment = h.environment AND r.version = h.version;
UPDATE score_rollup_daily r SET hist = h.hist
FROM (SELECT s.workspace_id, date_trunc('day', s.scored_at, 'UTC') AS bucket, s.name,
             coalesce(s.agent, '') AS agent, coalesce(s.department, '') AS department,
             coalesce(s.environment, '') AS environment, coalesce(s.version, '') AS version,
             argus_score_hist(array_agg(s.value)) AS hist
      FROM scores s WHERE s.data_type = 'numeric' GROUP BY 1, 2, 3, 4, 5, 6, 7) h
WHERE r.workspace_id = h.workspace_id AND r.bucket = h.bucket AND r.name = h.name
  AND r.label = '' AND r.agent = h.agent AND r.department = h.department
  AND r.environment = h.environment AND r.version = h.version;
