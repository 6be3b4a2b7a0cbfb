-- Backfills: an evaluator run over the spans (or traces) already stored in a window, as a job
-- with progress. The job walks the window an hour at a time; each hour's jobs and the job's
-- new position are written in one transaction that holds the job's row, so two replicas never
-- walk the same hour and a restart goes on from where it stopped.

CREATE TABLE eval_backfills (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    evaluator_id    uuid        NOT NULL,
    window_from     timestamptz NOT NULL,
    window_to       timestamptz NOT NULL CHECK (window_to > window_from),
    -- The dashboard filters (agent, env, version, dept) as a query string.
    filter          text        NOT NULL DEFAULT '',
    status          text        NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'done', 'failed')),
    -- Where the walk is: everything before it has been queued.
    reached         timestamptz NOT NULL,
    scanned         bigint      NOT NULL DEFAULT 0,
    queued          bigint      NOT NULL DEFAULT 0,
    error           text,
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, evaluator_id) REFERENCES evaluators (workspace_id, id) ON DELETE CASCADE
);
-- One unfinished backfill per evaluator.
CREATE UNIQUE INDEX eval_backfills_running_idx ON eval_backfills (workspace_id, evaluator_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX eval_backfills_evaluator_idx ON eval_backfills (workspace_id, evaluator_id, created_at DESC);
ALTER TABLE eval_backfills ENABLE ROW LEVEL SECURITY;
ALTER TABLE eval_backfills FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON eval_backfills USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON eval_backfills TO argus_app;

-- The backfills a stopped server left unfinished, across workspaces (resumed at start).
CREATE FUNCTION argus_unfinished_eval_backfills() RETURNS TABLE (workspace_id uuid, id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT workspace_id, id FROM eval_backfills WHERE status IN ('queued', 'running') $$;
REVOKE ALL ON FUNCTION argus_unfinished_eval_backfills() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_unfinished_eval_backfills() TO argus_app;
