-- One queued re-pricing job per workspace and model, one unfinished deletion per workspace and
-- filter: asking again returns the job already waiting instead of queueing the same work twice.

UPDATE price_jobs p SET status = 'failed', error = 'superseded by a later job of the same model',
    finished_at = now()
WHERE status = 'queued' AND EXISTS (
    SELECT 1 FROM price_jobs q
    WHERE q.workspace_id = p.workspace_id AND q.model = p.model AND q.status = 'queued'
      AND (q.created_at, q.id) > (p.created_at, p.id));
CREATE UNIQUE INDEX price_jobs_one_queued ON price_jobs (workspace_id, model) WHERE status = 'queued';

UPDATE trace_deletions d SET status = 'failed', error = 'superseded by a later job of the same filter',
    finished_at = now()
WHERE status IN ('queued', 'running') AND EXISTS (
    SELECT 1 FROM trace_deletions e
    WHERE e.workspace_id = d.workspace_id AND e.filter = d.filter
      AND e.status IN ('queued', 'running') AND (e.created_at, e.id) > (d.created_at, d.id));
CREATE UNIQUE INDEX trace_deletions_one_unfinished ON trace_deletions (workspace_id, filter)
    WHERE status IN ('queued', 'running');
