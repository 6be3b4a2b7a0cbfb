-- Guardrails: a workspace's policies (each change a new version, kept), the decisions of every
-- check (never the raw text: kinds, byte positions and a short redacted excerpt) and their
-- hourly and daily rollups by policy, stage, check, action and the dashboard's dimensions.

CREATE TABLE guard_policies (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    -- What an agent names in a check: letters, digits, '.', '_', '-'.
    name            text        NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    description     text        NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    -- Bumped when the definition changes; a decision names the version that made it.
    version         integer     NOT NULL DEFAULT 1,
    definition      jsonb       NOT NULL,
    -- The policy ingestion redacts spans with (at most one a workspace).
    ingest          boolean     NOT NULL DEFAULT false,
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX guard_policies_name_idx ON guard_policies (workspace_id, name);
CREATE UNIQUE INDEX guard_policies_ingest_idx ON guard_policies (workspace_id) WHERE ingest;

CREATE TABLE guard_policy_versions (
    workspace_id    uuid        NOT NULL,
    policy_id       uuid        NOT NULL,
    version         integer     NOT NULL,
    definition      jsonb       NOT NULL,
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, policy_id, version),
    FOREIGN KEY (workspace_id, policy_id) REFERENCES guard_policies (workspace_id, id) ON DELETE CASCADE
);

-- One row a check. A deleted policy's decisions stay (with its name) until retention.
CREATE TABLE guard_decisions (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    id              uuid        NOT NULL,
    policy_id       uuid        NOT NULL,
    policy_name     text        NOT NULL,
    policy_version  integer     NOT NULL,
    -- 'api' (POST /api/v1/guardrails/check) or 'ingest' (redaction of stored spans).
    source          text        NOT NULL CHECK (source IN ('api', 'ingest')),
    stage           text        NOT NULL CHECK (stage IN ('input', 'output', 'tool_call')),
    agent           text        NOT NULL,
    department      text        NOT NULL,
    environment     text        NOT NULL,
    action          text        NOT NULL CHECK (action IN ('allow', 'flag', 'redact', 'block')),
    would           text        NOT NULL CHECK (would IN ('allow', 'flag', 'redact', 'block')),
    shadow          boolean     NOT NULL,
    -- [{check, kind, start, end, score, action, path}]
    violations      jsonb       NOT NULL,
    -- Up to 160 characters around the first violation, every finding in it redacted.
    excerpt         text,
    trace_id        text        CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    span_id         text        CHECK (span_id ~ '^[0-9a-f]{16}$'),
    duration_us     integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, at, id)
);
CREATE INDEX guard_decisions_trace_idx ON guard_decisions (workspace_id, trace_id)
    WHERE trace_id IS NOT NULL;
CREATE INDEX guard_decisions_time_idx ON guard_decisions (workspace_id, at DESC);

-- Per hour (and day): decisions by action and what they would have done (check = ''), and
-- violations by check (check = 'pii', …; `action` is then the decision's).
CREATE TABLE guard_rollup_hourly (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bucket          timestamptz NOT NULL,
    policy_id       uuid        NOT NULL,
    stage           text        NOT NULL,
    "check"         text        NOT NULL,
    action          text        NOT NULL,
    would           text        NOT NULL,
    shadow          boolean     NOT NULL,
    department      text        NOT NULL,
    agent           text        NOT NULL,
    environment     text        NOT NULL,
    n               bigint      NOT NULL,
    PRIMARY KEY (workspace_id, bucket, policy_id, stage, "check", action, would, shadow,
                 department, agent, environment)
);
CREATE TABLE guard_rollup_daily (LIKE guard_rollup_hourly INCLUDING ALL);
ALTER TABLE guard_rollup_daily
    ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['guard_policies', 'guard_policy_versions', 'guard_decisions',
                             'guard_rollup_hourly', 'guard_rollup_daily'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON guard_policies, guard_policy_versions, guard_decisions,
    guard_rollup_hourly, guard_rollup_daily TO argus_app;

-- API keys may hold the `guardrail` scope: run checks, read nothing else.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['ingest', 'read', 'admin', 'score', 'guardrail'] AND cardinality(scopes) > 0);
