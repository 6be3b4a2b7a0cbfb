-- Spans, traces and agents: what ingestion stores.
--
-- spans is the bulk (every span with its attributes and messages): range-partitioned by day on
-- start_time, partitions created ahead by the server through argus_ensure_span_partition(), so
-- retention drops whole days. The key is (workspace_id, trace_id, span_id, start_time): a
-- re-sent span conflicts and is skipped, never counted twice.
--
-- traces is one summary row per trace, maintained incrementally from newly stored spans. Its
-- start time moves earlier when an earlier span arrives late, and a partition key must never
-- change, so it is a plain table with (workspace_id, start_time) indexes; retention deletes its
-- rows in batches.

CREATE TABLE spans (
    workspace_id          uuid        NOT NULL,
    trace_id              text        NOT NULL CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    span_id               text        NOT NULL CHECK (span_id ~ '^[0-9a-f]{16}$'),
    start_time            timestamptz NOT NULL,
    parent_span_id        text,
    name                  text        NOT NULL,
    kind                  smallint    NOT NULL,
    end_time              timestamptz NOT NULL,
    duration_us           bigint      NOT NULL CHECK (duration_us >= 0),
    status                text        NOT NULL CHECK (status IN ('unset', 'ok', 'error')),
    status_message        text,
    error_type            text,
    agent                 text        NOT NULL,
    department            text        NOT NULL,
    environment           text        NOT NULL,
    version               text        NOT NULL,
    operation             text,
    model                 text,
    request_model         text,
    provider              text,
    input_tokens          bigint      NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens         bigint      NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_read_tokens     bigint      NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    cache_creation_tokens bigint      NOT NULL DEFAULT 0 CHECK (cache_creation_tokens >= 0),
    reasoning_tokens      bigint      NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    -- USD; NULL while the model has no price.
    cost_usd              numeric(20, 10) CHECK (cost_usd >= 0),
    -- 'sent' (gen_ai.usage.cost), 'workspace' (override) or 'catalog'; NULL when unpriced.
    cost_source           text,
    session_id            text,
    user_id               text,
    input                 jsonb,
    output                jsonb,
    attributes            jsonb       NOT NULL,
    resource              jsonb       NOT NULL,
    dropped_attributes    integer     NOT NULL DEFAULT 0,
    ingested_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, trace_id, span_id, start_time)
) PARTITION BY RANGE (start_time);

CREATE INDEX spans_time_idx ON spans (workspace_id, start_time DESC);
CREATE INDEX spans_department_time_idx ON spans (workspace_id, department, start_time DESC);

CREATE TABLE traces (
    workspace_id          uuid        NOT NULL,
    trace_id              text        NOT NULL,
    start_time            timestamptz NOT NULL,
    end_time              timestamptz NOT NULL,
    -- The root span, once it has arrived.
    root_span_id          text,
    name                  text        NOT NULL,
    -- The root's duration; until the root arrives, the spread of the spans seen.
    latency_us            bigint      NOT NULL,
    agent                 text        NOT NULL,
    department            text        NOT NULL,
    environment           text        NOT NULL,
    version               text        NOT NULL,
    session_id            text,
    user_id               text,
    span_count            integer     NOT NULL,
    error_count           integer     NOT NULL,
    input_tokens          bigint      NOT NULL,
    output_tokens         bigint      NOT NULL,
    cache_read_tokens     bigint      NOT NULL,
    cache_creation_tokens bigint      NOT NULL,
    reasoning_tokens      bigint      NOT NULL,
    cost_usd              numeric(20, 10) NOT NULL,
    unpriced_spans        integer     NOT NULL,
    models                text[]      NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, trace_id)
);

CREATE INDEX traces_time_idx ON traces (workspace_id, start_time DESC, trace_id DESC);
CREATE INDEX traces_department_time_idx ON traces (workspace_id, department, start_time DESC);

CREATE TABLE agents (
    workspace_id          uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    agent                 text        NOT NULL,
    department            text        NOT NULL,
    display_name          text,
    first_seen            timestamptz NOT NULL,
    last_seen             timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, agent)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['spans', 'traces', 'agents'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON spans, traces, agents TO argus_app;

-- Creates the day partition of spans holding `day` if it is missing. Runs as the owner of
-- spans (the migrating role), so the server's role, which owns nothing, can call it.
CREATE FUNCTION argus_ensure_span_partition(day date) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    name text := 'spans_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NULL THEN
        BEGIN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF spans FOR VALUES FROM (%L) TO (%L)',
                name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
        EXCEPTION WHEN duplicate_table THEN
            NULL; -- created concurrently
        END;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION argus_ensure_span_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_ensure_span_partition(date) TO argus_app;
