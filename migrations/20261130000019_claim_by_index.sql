-- The worker's claim reads the due jobs down eval_jobs_ready_idx (run_after, queued only): the
-- first version's OR with expired leases kept the planner from the index (a scan and a sort of
-- the whole queue on every claim). Expired leases are put back in the queue first, through
-- eval_jobs_leased_idx, then claimed like any due job.
CREATE OR REPLACE FUNCTION argus_claim_eval_jobs(n integer, lease_secs integer)
    RETURNS TABLE (workspace_id uuid, evaluator_id uuid, trace_id text, span_id text,
                   span_start timestamptz, attempts integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    UPDATE eval_jobs e SET status = 'queued', run_after = now(), lease_until = NULL
    WHERE e.status = 'running' AND e.lease_until < now();
    RETURN QUERY
    UPDATE eval_jobs j
    SET status = 'running', attempts = j.attempts + 1,
        lease_until = now() + make_interval(secs => lease_secs)
    FROM (
        SELECT q.workspace_id, q.evaluator_id, q.trace_id, q.span_id FROM eval_jobs q
        WHERE q.status = 'queued' AND q.run_after <= now()
        ORDER BY q.run_after
        LIMIT n
        FOR UPDATE SKIP LOCKED
    ) c
    WHERE j.workspace_id = c.workspace_id AND j.evaluator_id = c.evaluator_id
      AND j.trace_id = c.trace_id AND j.span_id = c.span_id
    RETURNING j.workspace_id, j.evaluator_id, j.trace_id, j.span_id, j.span_start, j.attempts;
END
$$;
