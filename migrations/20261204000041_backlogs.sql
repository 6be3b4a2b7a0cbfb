-- Issue 20, point 6: the background work waiting, across workspaces, for the Prometheus
-- metrics (`argus_backlog_*`). Counts and ages only: no workspace's rows leave the function.
-- Waiting means queued or in progress (leased); finished, failed and dead rows are not.
CREATE FUNCTION argus_backlogs()
    RETURNS TABLE (queue text, waiting bigint, oldest timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT 'evaluations', count(*), min(created_at) FROM eval_jobs
            WHERE status IN ('queued', 'running')
        UNION ALL
        SELECT 'evaluation_backfills', count(*), min(created_at) FROM eval_backfills
            WHERE status IN ('queued', 'running')
        UNION ALL
        SELECT 'repricing', count(*), min(created_at) FROM price_jobs
            WHERE status IN ('queued', 'running')
        UNION ALL
        SELECT 'trace_deletions', count(*), min(created_at) FROM trace_deletions
            WHERE status IN ('queued', 'running')
        UNION ALL
        SELECT 'notifications', count(*), min(created_at) FROM alert_deliveries
            WHERE status IN ('queued', 'sending')
    $$;
REVOKE ALL ON FUNCTION argus_backlogs() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_backlogs() TO argus_app;
