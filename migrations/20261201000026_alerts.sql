-- Alerts and budgets: a minute-level rollup for short windows; rules and their instances (one a
-- group value) with every state change kept; silences; notification channels and a durable
-- outbox of deliveries; monthly budgets and the levels they have announced.

-- The rollup of rollup_hourly by minute, kept a few days (retention trims it), so windows under
-- an hour are exact to the minute.
CREATE TABLE rollup_minute (LIKE rollup_hourly INCLUDING ALL);
ALTER TABLE rollup_minute ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_minute FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON rollup_minute
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_minute TO argus_app;

CREATE TABLE alert_channels (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL CHECK (name <> '' AND length(name) <= 100),
    kind            text        NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    -- webhook and slack: the URL; email: the addresses, comma-separated.
    target          text        NOT NULL CHECK (length(target) <= 2000),
    -- The webhook's signing secret, sealed (AES-GCM with the server's key).
    secret_sealed   bytea,
    enabled         boolean     NOT NULL DEFAULT true,
    -- Why the channel was turned off (repeated failures), if it was.
    disabled_reason text,
    failures        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX alert_channels_name_idx ON alert_channels (workspace_id, name);

CREATE TABLE alert_rules (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    -- {metric, window_secs, filters {dept, env, version, agent, model}, op, threshold,
    --  min_requests, for_secs, group_by, score_name, score_label, repeat_secs}
    definition      jsonb       NOT NULL,
    channels        uuid[]      NOT NULL DEFAULT '{}',
    enabled         boolean     NOT NULL DEFAULT true,
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX alert_rules_name_idx ON alert_rules (workspace_id, name);

-- One a rule and group value ('' without group-by); budgets' instances name their budget.
CREATE TABLE alert_instances (
    workspace_id    uuid        NOT NULL,
    rule_id         uuid        NOT NULL,
    group_value     text        NOT NULL,
    state           text        NOT NULL
                    CHECK (state IN ('normal', 'pending', 'firing', 'resolved', 'no_data', 'error')),
    since           timestamptz NOT NULL,
    value           double precision,
    reason          text        NOT NULL DEFAULT '',
    evaluated_at    timestamptz NOT NULL,
    last_notified_at timestamptz,
    acked_by        uuid        REFERENCES users (id) ON DELETE SET NULL,
    acked_at        timestamptz,
    PRIMARY KEY (workspace_id, rule_id, group_value),
    FOREIGN KEY (workspace_id, rule_id) REFERENCES alert_rules (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_instances_state_idx ON alert_instances (workspace_id, state)
    WHERE state IN ('pending', 'firing');

CREATE TABLE alert_history (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    at              timestamptz NOT NULL,
    rule_id         uuid        NOT NULL,
    rule_name       text        NOT NULL,
    group_value     text        NOT NULL,
    from_state      text        NOT NULL,
    to_state        text        NOT NULL,
    value           double precision,
    threshold       double precision,
    reason          text        NOT NULL,
    -- The deliveries queued for it, or why none were (silenced, no channel).
    notified        text        NOT NULL DEFAULT '',
    window_from     timestamptz,
    window_to       timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX alert_history_time_idx ON alert_history (workspace_id, at DESC);
CREATE INDEX alert_history_rule_idx ON alert_history (workspace_id, rule_id, at DESC);

CREATE TABLE alert_silences (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    -- Matchers: a rule (NULL: any) and a group value (NULL: any).
    rule_id         uuid,
    group_value     text        CHECK (length(group_value) <= 200),
    comment         text        NOT NULL DEFAULT '' CHECK (length(comment) <= 1000),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX alert_silences_end_idx ON alert_silences (workspace_id, ends_at);

-- The outbox: a delivery is queued in the transaction that changed the state, claimed under a
-- lease (FOR UPDATE SKIP LOCKED), and retried with backoff until delivered or dead.
CREATE TABLE alert_deliveries (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Also the receiver's idempotency key.
    id              uuid        NOT NULL,
    channel_id      uuid        NOT NULL,
    rule_id         uuid,
    group_value     text        NOT NULL DEFAULT '',
    event           text        NOT NULL,
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES alert_channels (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_at)
    WHERE status IN ('queued', 'sending');
CREATE INDEX alert_deliveries_time_idx ON alert_deliveries (workspace_id, created_at DESC);

CREATE TABLE budgets (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    -- 'workspace' (scope_value ''), 'department' or 'agent'.
    scope           text        NOT NULL CHECK (scope IN ('workspace', 'department', 'agent')),
    scope_value     text        NOT NULL CHECK (length(scope_value) <= 200),
    amount_usd      numeric(16, 2) NOT NULL CHECK (amount_usd > 0),
    channels        uuid[]      NOT NULL DEFAULT '{}',
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, scope, scope_value)
);

-- The levels a budget has announced in a month ('50', '80', '100', 'forecast'): once each.
CREATE TABLE budget_notices (
    workspace_id    uuid        NOT NULL,
    budget_id       uuid        NOT NULL,
    month           date        NOT NULL,
    level           text        NOT NULL,
    at              timestamptz NOT NULL,
    spent_usd       double precision NOT NULL,
    forecast_usd    double precision,
    PRIMARY KEY (workspace_id, budget_id, month, level),
    FOREIGN KEY (workspace_id, budget_id) REFERENCES budgets (workspace_id, id) ON DELETE CASCADE
);

-- When the last evaluation cycle ran (one row): a replica that takes the lock soon after
-- another finished skips its cycle.
CREATE TABLE alert_cycles (
    one             boolean     PRIMARY KEY DEFAULT true CHECK (one),
    last_run_at     timestamptz NOT NULL,
    duration_ms     integer     NOT NULL DEFAULT 0,
    rules           integer     NOT NULL DEFAULT 0
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alert_channels', 'alert_rules', 'alert_instances', 'alert_history',
                             'alert_silences', 'alert_deliveries', 'budgets', 'budget_notices'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON alert_channels, alert_rules, alert_instances,
    alert_history, alert_silences, alert_deliveries, budgets, budget_notices TO argus_app;
GRANT SELECT, INSERT, UPDATE ON alert_cycles TO argus_app;

-- The workspaces with an enabled rule or a budget (the evaluator's list; no tenant data).
CREATE FUNCTION argus_alert_workspaces() RETURNS TABLE (workspace_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT workspace_id FROM alert_rules WHERE enabled
        UNION
        SELECT workspace_id FROM budgets
    $$;
REVOKE ALL ON FUNCTION argus_alert_workspaces() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_alert_workspaces() TO argus_app;

-- Claims due deliveries (several replicas share them; a lease that ran out comes back).
CREATE FUNCTION argus_claim_alert_deliveries(n integer, lease_secs integer)
    RETURNS TABLE (workspace_id uuid, id uuid, attempts integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    UPDATE alert_deliveries d
    SET status = 'sending', attempts = d.attempts + 1,
        lease_until = now() + make_interval(secs => lease_secs)
    FROM (
        SELECT q.workspace_id, q.id FROM alert_deliveries q
        WHERE ((q.status = 'queued' AND q.next_at <= now())
               OR (q.status = 'sending' AND q.lease_until < now()))
        ORDER BY q.next_at
        LIMIT n
        FOR UPDATE SKIP LOCKED
    ) c
    WHERE d.workspace_id = c.workspace_id AND d.id = c.id
    RETURNING d.workspace_id, d.id, d.attempts;
END
$$;
REVOKE ALL ON FUNCTION argus_claim_alert_deliveries(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_claim_alert_deliveries(integer, integer) TO argus_app;

-- When the next delivery is due (the notifier's sleep).
CREATE FUNCTION argus_next_alert_delivery() RETURNS timestamptz
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT min(CASE WHEN status = 'queued' THEN next_at ELSE lease_until END)
        FROM alert_deliveries WHERE status IN ('queued', 'sending')
    $$;
REVOKE ALL ON FUNCTION argus_next_alert_delivery() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_next_alert_delivery() TO argus_app;
