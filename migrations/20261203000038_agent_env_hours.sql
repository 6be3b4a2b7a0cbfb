-- An agent's hours in one environment, a day to a row: migration 0033's rollup_agent_hours
-- with the environment in the key (one row per workspace, UTC day, department, environment and
-- agent; element h + 1 of each array is the hour starting h hours after `bucket`). Written by
-- the same code from the same deltas in the same transaction as the other rollups
-- (argus_domain::ingest::rollup).
--
-- The reads of an hourly window filtered by an environment that need neither a model, a
-- version nor latencies — usage by department or agent, cost per department per step, the
-- activity stream's spikes, the home page's top agents — grouped rollup_hourly (every
-- dimension) per hour: on the 10 M-trace benchmark a week of one department in one
-- environment is 3,280 rows found among the week's 78,720 index entries (~10 ms of
-- PostgreSQL). Here it is 8 days × 5 agents = 40 rows. The unfiltered reads keep the table
-- without environments (summing environments there would multiply their rows).
CREATE TABLE rollup_agent_env_hours (
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bucket            timestamptz NOT NULL,
    department        text        NOT NULL,
    environment       text        NOT NULL,
    agent             text        NOT NULL,
    traces            bigint[]    NOT NULL,
    trace_errors      bigint[]    NOT NULL,
    spans             bigint[]    NOT NULL,
    input_tokens      bigint[]    NOT NULL,
    output_tokens     bigint[]    NOT NULL,
    cache_read_tokens bigint[]    NOT NULL,
    reasoning_tokens  bigint[]    NOT NULL,
    cost_usd          float8[]    NOT NULL,
    PRIMARY KEY (workspace_id, bucket, department, environment, agent),
    CHECK (cardinality(traces) = 24 AND cardinality(trace_errors) = 24
        AND cardinality(spans) = 24 AND cardinality(input_tokens) = 24
        AND cardinality(output_tokens) = 24 AND cardinality(cache_read_tokens) = 24
        AND cardinality(reasoning_tokens) = 24 AND cardinality(cost_usd) = 24)
);
ALTER TABLE rollup_agent_env_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_agent_env_hours FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON rollup_agent_env_hours
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_agent_env_hours TO argus_app;

-- Replaces every workspace's rows by the hours of rollup_hourly, set-wise. For tools that
-- write rollups in bulk (the dashboard benchmark), for tests, and below.
CREATE FUNCTION argus_rebuild_agent_env_hours() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM rollup_agent_env_hours;
    INSERT INTO rollup_agent_env_hours (workspace_id, bucket, department, environment, agent,
        traces, trace_errors, spans, input_tokens, output_tokens, cache_read_tokens,
        reasoning_tokens, cost_usd)
    WITH hours AS (
        SELECT workspace_id, date_trunc('day', bucket, 'UTC') AS day, department, environment,
               agent, extract(hour FROM bucket AT TIME ZONE 'UTC')::int AS h,
               sum(traces)::bigint AS traces, sum(trace_errors)::bigint AS trace_errors,
               sum(spans)::bigint AS spans, sum(input_tokens)::bigint AS input_tokens,
               sum(output_tokens)::bigint AS output_tokens,
               sum(cache_read_tokens)::bigint AS cache_read_tokens,
               sum(reasoning_tokens)::bigint AS reasoning_tokens,
               sum(cost_usd)::float8 AS cost_usd
        FROM rollup_hourly GROUP BY 1, 2, 3, 4, 5, 6),
    days AS (SELECT DISTINCT workspace_id, day, department, environment, agent FROM hours)
    SELECT d.workspace_id, d.day, d.department, d.environment, d.agent,
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
        AND h.department = d.department AND h.environment = d.environment
        AND h.agent = d.agent AND h.h = g.h
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5;
END
$fn$;

SELECT argus_rebuild_agent_env_hours();
