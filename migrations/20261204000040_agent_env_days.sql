-- An agent's days in one environment, a month to a row: migration 0036's rollup_agent_days
-- with the environment in the key (one row per workspace, UTC month, department, environment
-- and agent; element d + 1 of each array is the day starting d days after `bucket`, the days a
-- month lacks left 0). Written by the same code from the same deltas in the same transaction
-- as the other rollups (argus_domain::ingest::rollup); the rebuild path recomputes the months
-- it touches from rollup_daily (argus_rebuild_agent_env_days); retention zeroes the days
-- before its cutoff.
--
-- The reads of a daily window (30 and 90 days) filtered by an environment that need neither a
-- model, a version nor latencies — usage by department or agent, cost per department per
-- step, the activity stream's spikes, the home page's top agents — grouped rollup_daily (every
-- dimension) per day: on the 10 M-trace benchmark 90 days of one department in one
-- environment are ~2,900 rows found among ~9,700 of the department. Here they are 4 months ×
-- 8 agents. What 0038 did for hourly windows.
CREATE TABLE rollup_agent_env_days (
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
    CHECK (cardinality(traces) = 31 AND cardinality(trace_errors) = 31
        AND cardinality(spans) = 31 AND cardinality(input_tokens) = 31
        AND cardinality(output_tokens) = 31 AND cardinality(cache_read_tokens) = 31
        AND cardinality(reasoning_tokens) = 31 AND cardinality(cost_usd) = 31)
);
ALTER TABLE rollup_agent_env_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_agent_env_days FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON rollup_agent_env_days
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_agent_env_days TO argus_app;

-- Replaces the rows of the months from the one holding `from` up to `to` (exclusive) by the
-- days of rollup_daily, set-wise: of one workspace, or of every workspace when `ws` is NULL
-- (and of every month when `from` and `to` are NULL). Runs as its caller: under row-level
-- security it sees the caller's workspace only.
CREATE FUNCTION argus_rebuild_agent_env_days(ws uuid, "from" timestamptz, "to" timestamptz)
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    lo timestamptz := date_trunc('month', coalesce("from", '-infinity'), 'UTC');
    hi timestamptz := coalesce("to", 'infinity');
BEGIN
    DELETE FROM rollup_agent_env_days
    WHERE (ws IS NULL OR workspace_id = ws) AND bucket >= lo AND bucket < hi;
    INSERT INTO rollup_agent_env_days (workspace_id, bucket, department, environment, agent,
        traces, trace_errors, spans, input_tokens, output_tokens, cache_read_tokens,
        reasoning_tokens, cost_usd)
    WITH days AS (
        SELECT workspace_id, date_trunc('month', bucket, 'UTC') AS month, department,
               environment, agent, extract(day FROM bucket AT TIME ZONE 'UTC')::int - 1 AS d,
               sum(traces)::bigint AS traces, sum(trace_errors)::bigint AS trace_errors,
               sum(spans)::bigint AS spans, sum(input_tokens)::bigint AS input_tokens,
               sum(output_tokens)::bigint AS output_tokens,
               sum(cache_read_tokens)::bigint AS cache_read_tokens,
               sum(reasoning_tokens)::bigint AS reasoning_tokens,
               sum(cost_usd)::float8 AS cost_usd
        FROM rollup_daily
        WHERE (ws IS NULL OR workspace_id = ws) AND bucket >= lo
          AND date_trunc('month', bucket, 'UTC') < hi
        GROUP BY 1, 2, 3, 4, 5, 6),
    months AS (SELECT DISTINCT workspace_id, month, department, environment, agent FROM days)
    SELECT m.workspace_id, m.month, m.department, m.environment, m.agent,
           array_agg(coalesce(d.traces, 0) ORDER BY g.d),
           array_agg(coalesce(d.trace_errors, 0) ORDER BY g.d),
           array_agg(coalesce(d.spans, 0) ORDER BY g.d),
           array_agg(coalesce(d.input_tokens, 0) ORDER BY g.d),
           array_agg(coalesce(d.output_tokens, 0) ORDER BY g.d),
           array_agg(coalesce(d.cache_read_tokens, 0) ORDER BY g.d),
           array_agg(coalesce(d.reasoning_tokens, 0) ORDER BY g.d),
           array_agg(coalesce(d.cost_usd, 0) ORDER BY g.d)
    FROM months m CROSS JOIN generate_series(0, 30) AS g(d)
    LEFT JOIN days d ON d.workspace_id = m.workspace_id AND d.month = m.month
        AND d.department = m.department AND d.environment = m.environment
        AND d.agent = m.agent AND d.d = g.d
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5;
END
$fn$;

SELECT argus_rebuild_agent_env_days(NULL, NULL, NULL);
