-- A mergeable histogram of numeric scores in the score rollups: 67 fixed bins (0–66) shared by
-- every score name, so rows of any bucket, name or dimension add up bin by bin (and deletions
-- take away). The layout (domain/src/evals/histogram.rs draws the same edges):
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

-- A row keeps the bins from its first non-empty one to its last: the array's subscripts are the
-- bins (a 0–1 score's row holds at most 20 counts, a 1–5 rating's 9), so reads move less.

-- The histogram of some values (NULLs left out), or NULL when none is given.
CREATE FUNCTION argus_score_hist(vs double precision[]) RETURNS bigint[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
    DECLARE
        r bigint[] := '{}';
        x double precision;
        b integer;
    BEGIN
        IF vs IS NULL THEN
            RETURN NULL;
        END IF;
        FOREACH x IN ARRAY vs LOOP
            CONTINUE WHEN x IS NULL;
            b := argus_score_bin(x);
            r[b] := coalesce(r[b], 0) + 1;
        END LOOP;
        IF cardinality(r) = 0 THEN
            RETURN NULL;
        END IF;
        FOR i IN array_lower(r, 1)..array_upper(r, 1) LOOP
            r[i] := coalesce(r[i], 0);
        END LOOP;
        RETURN r;
    END
    $$;

-- a + sign × b, bin by bin (either may be NULL: no numbers), over both arrays' bins.
CREATE FUNCTION argus_hist_add(a bigint[], b bigint[], sign bigint) RETURNS bigint[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
    DECLARE
        r bigint[] := '{}';
    BEGIN
        IF b IS NULL OR cardinality(b) = 0 THEN
            RETURN a;
        END IF;
        FOR i IN least(array_lower(a, 1), array_lower(b, 1))
                 ..greatest(array_upper(a, 1), array_upper(b, 1)) LOOP
            r[i] := coalesce(a[i], 0) + sign * coalesce(b[i], 0);
        END LOOP;
        RETURN r;
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
