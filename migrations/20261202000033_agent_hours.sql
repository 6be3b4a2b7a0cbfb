-- An agent's hours, a day to a row: one row per (workspace, UTC day, department, agent) whose
-- arrays hold the day's 24 hours of the agent rollup's counts (element h + 1 is the hour
-- starting h hours after `bucket`, the day's UTC midnight), without model, environment,
-- version or histograms. Written by the same code from the same deltas in the same
-- transaction as the other rollups (argus_domain::ingest::rollup).
--
-- The reads of an hourly window that need neither a model nor latencies — the activity
-- stream's spikes, usage by department or by agent, cost per department per chart step —
-- grouped a week of rollup_agent_hourly per hour: on the 10 M-trace benchmark 13,280 rows of
-- ~630 B, 18–22 ms of PostgreSQL, most of it computing the sums row by row (the rows alone
-- read in ~4 ms). Here that week is 8 days × 40 agents = 320 rows, summed in the server.
CREATE TABLE rollup_agent_hours (
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bucket            timestamptz NOT NULL,
    department        text        NOT NULL,
    agent             text        NOT NULL,
    traces            bigint[]    NOT NULL,
    trace_errors      bigint[]    NOT NULL,
    spans             bigint[]    NOT NULL,
    input_tokens      bigint[]    NOT NULL,
    output_tokens     bigint[]    NOT NULL,
    cache_read_tokens bigint[]    NOT NULL,
    reasoning_tokens  bigint[]    NOT NULL,
    cost_usd          float8[]    NOT NULL,
    PRIMARY KEY (workspace_id, bucket, department, agent),
    CHECK (cardinality(traces) = 24 AND cardinality(trace_errors) = 24
        AND cardinality(spans) = 24 AND cardinality(input_tokens) = 24
        AND cardinality(output_tokens) = 24 AND cardinality(cache_read_tokens) = 24
        AND cardinality(reasoning_tokens) = 24 AND cardinality(cost_usd) = 24)
);
ALTER TABLE rollup_agent_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_agent_hours FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON rollup_agent_hours
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_agent_hours TO argus_app;

-- Element-wise sums of two arrays of the same length (a batch's hours added to a stored row).
CREATE FUNCTION argus_add_bigints(a bigint[], b bigint[]) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT x + y FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i) ORDER BY i);
CREATE FUNCTION argus_add_float8s(a float8[], b float8[]) RETURNS float8[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT x + y FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i) ORDER BY i);

-- Replaces every workspace's rows by the hours of rollup_agent_hourly, set-wise. For tools
-- that write rollups in bulk (the dashboard benchmark), for tests, and below.
CREATE FUNCTION argus_rebuild_agent_hours() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM rollup_agent_hours;
    INSERT INTO rollup_agent_hours (workspace_id, bucket, department, agent, traces,
        trace_errors, spans, input_tokens, output_tokens, cache_read_tokens, reasoning_tokens,
        cost_usd)
    WITH hours AS (
        SELECT workspace_id, date_trunc('day', bucket, 'UTC') AS day, department, agent,
               extract(hour FROM bucket AT TIME ZONE 'UTC')::int AS h,
               sum(traces)::bigint AS traces, sum(trace_errors)::bigint AS trace_errors,
               sum(spans)::bigint AS spans, sum(input_tokens)::bigint AS input_tokens,
               sum(output_tokens)::bigint AS output_tokens,
               sum(cache_read_tokens)::bigint AS cache_read_tokens,
               sum(reasoning_tokens)::bigint AS reasoning_tokens,
               sum(cost_usd)::float8 AS cost_usd
        FROM rollup_agent_hourly GROUP BY 1, 2, 3, 4, 5),
    days AS (SELECT DISTINCT workspace_id, day, department, agent FROM hours)
    SELECT d.workspace_id, d.day, d.department, d.agent,
           array_agg(coalesce(h.traces, 0) ORDER BY g.h),
           array_agg(coalesce(h.trace_errors, 0) ORDER BY g.h),
           array_agg(coalesce(h.spans, 0) ORDER BY g.h),
           array_agg(coalesce(h.input_tokens, 0) ORDER BY g.h),
           array_agg(coalesce(h.output_tokens, 0) ORDER BY g.h),
           array_agg(coalesce(h.cache_read_tokens, 0) ORDER BY g.h),
           array_agg(coalesce(h.reasoning_tokens, 0) ORDER BY g.h),
           array_agg(coalesce(h.cost_usd, 0) ORDER BY g.h)
    FROM days d CROSS JOIN generate_series(0, 23) AS g(h)
    LEFT JOIN hours h ON h.workspace_id = d.workspace_id AND h.day = d.day
        AND h.department = d.department AND h.agent = d.agent AND h.h = g.h
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4;
END
$fn$;

SELECT argus_rebuild_agent_hours();
