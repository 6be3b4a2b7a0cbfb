-- Online evaluators: a filter over spans (or whole traces), a sampling rate and a rule; and the
-- durable queue ingest feeds them through. A job is a (evaluator, trace, span) pair, unique, so
-- a re-sent span queues nothing twice; a worker claims jobs with FOR UPDATE SKIP LOCKED under a
-- lease (a crashed worker's jobs come back when the lease ends) and stores the score and the
-- job's end in one transaction (a score's id is derived from the job: nothing is scored twice).

CREATE TABLE evaluators (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    -- Bumped when the definition changes; a score names the version that gave it.
    version         integer     NOT NULL DEFAULT 1,
    -- 'span': each matching span; 'trace': the whole trace once its root span is in.
    target          text        NOT NULL CHECK (target IN ('span', 'trace')),
    -- {agent, environment, version, model, operation, span_name, status}: all optional.
    filter          jsonb       NOT NULL DEFAULT '{}',
    sampling        double precision NOT NULL CHECK (sampling > 0 AND sampling <= 1),
    -- The rule: {"type": "contains", "field": "output", "value": "…"}, … (see evals::rules).
    rule            jsonb       NOT NULL,
    score_name      text        NOT NULL CHECK (score_name <> '' AND length(score_name) <= 200),
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_reason   text,
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX evaluators_name_idx ON evaluators (workspace_id, name);
CREATE INDEX evaluators_active_idx ON evaluators (workspace_id) WHERE status = 'active';

CREATE TABLE eval_jobs (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    evaluator_id    uuid        NOT NULL,
    trace_id        text        NOT NULL,
    -- '' for a trace-level job.
    span_id         text        NOT NULL,
    -- The span's start (its partition), or the trace's.
    span_start      timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    run_after       timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (workspace_id, evaluator_id, trace_id, span_id),
    FOREIGN KEY (workspace_id, evaluator_id) REFERENCES evaluators (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX eval_jobs_ready_idx ON eval_jobs (run_after) WHERE status = 'queued';
CREATE INDEX eval_jobs_leased_idx ON eval_jobs (lease_until) WHERE status = 'running';
CREATE INDEX eval_jobs_failed_idx ON eval_jobs (workspace_id, evaluator_id, finished_at DESC)
    WHERE status = 'failed';

-- What each evaluator did per day (UTC): the jobs done, failed and sampled out.
CREATE TABLE evaluator_daily (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    evaluator_id    uuid        NOT NULL,
    day             date        NOT NULL,
    done            bigint      NOT NULL DEFAULT 0,
    failed          bigint      NOT NULL DEFAULT 0,
    skipped         bigint      NOT NULL DEFAULT 0,
    spent_usd       double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, evaluator_id, day),
    FOREIGN KEY (workspace_id, evaluator_id) REFERENCES evaluators (workspace_id, id) ON DELETE CASCADE
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['evaluators', 'eval_jobs', 'evaluator_daily'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON evaluators, eval_jobs, evaluator_daily TO argus_app;

-- The worker's claim, across workspaces: up to `n` jobs that are due (or whose lease ran out),
-- marked running under a lease of `lease_secs`. Runs as the owner; returns keys only.
CREATE FUNCTION argus_claim_eval_jobs(n integer, lease_secs integer)
    RETURNS TABLE (workspace_id uuid, evaluator_id uuid, trace_id text, span_id text,
                   span_start timestamptz, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        UPDATE eval_jobs j
        SET status = 'running', attempts = j.attempts + 1,
            lease_until = now() + make_interval(secs => lease_secs)
        FROM (
            SELECT q.workspace_id, q.evaluator_id, q.trace_id, q.span_id FROM eval_jobs q
            WHERE (q.status = 'queued' AND q.run_after <= now())
               OR (q.status = 'running' AND q.lease_until < now())
            ORDER BY q.run_after
            LIMIT n
            FOR UPDATE SKIP LOCKED
        ) c
        WHERE j.workspace_id = c.workspace_id AND j.evaluator_id = c.evaluator_id
          AND j.trace_id = c.trace_id AND j.span_id = c.span_id
        RETURNING j.workspace_id, j.evaluator_id, j.trace_id, j.span_id, j.span_start, j.attempts
    $$;
REVOKE ALL ON FUNCTION argus_claim_eval_jobs(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_claim_eval_jobs(integer, integer) TO argus_app;

-- When the next job falls due, across workspaces (the worker sleeps until then).
CREATE FUNCTION argus_next_eval_job() RETURNS timestamptz
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT min(t) FROM (
            SELECT min(run_after) AS t FROM eval_jobs WHERE status = 'queued'
            UNION ALL
            SELECT min(lease_until) FROM eval_jobs WHERE status = 'running'
        ) x
    $$;
REVOKE ALL ON FUNCTION argus_next_eval_job() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_next_eval_job() TO argus_app;
