-- Deleting traces and keeping them for the workspace's retention only.
--
-- trace_deletions is the audit and the progress of both: who asked (NULL: the retention job),
-- when, which filter (the list's query string, or `trace_id=…`), how many matched and how many
-- are gone so far. A deletion runs in the background, in batches; the rollups of the days it
-- touched are then rebuilt from what remains.

CREATE TABLE trace_deletions (
    id           uuid        PRIMARY KEY,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    requested_by uuid,
    filter       text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    matched      bigint,
    deleted      bigint      NOT NULL DEFAULT 0,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX trace_deletions_workspace_idx ON trace_deletions (workspace_id, created_at DESC);
ALTER TABLE trace_deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE trace_deletions FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON trace_deletions
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON trace_deletions TO argus_app;

-- For the retention job (it runs for every workspace): each workspace's retention, and the
-- deletions a stopped server left unfinished.
CREATE FUNCTION argus_workspace_retention() RETURNS TABLE (workspace_id uuid, retention_days integer)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT id, retention_days FROM workspaces $$;
REVOKE ALL ON FUNCTION argus_workspace_retention() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_workspace_retention() TO argus_app;

CREATE FUNCTION argus_unfinished_trace_deletions() RETURNS TABLE (workspace_id uuid, id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT workspace_id, id FROM trace_deletions WHERE status IN ('queued', 'running') $$;
REVOKE ALL ON FUNCTION argus_unfinished_trace_deletions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_unfinished_trace_deletions() TO argus_app;

-- Drops the day partitions of spans that end on or before `before` (every workspace's rows in
-- them are past its retention: the caller passes the oldest cutoff). Runs as the owner of
-- spans. Returns the partitions dropped.
CREATE FUNCTION argus_drop_span_partitions(before date) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'spans'::regclass AND c.relname ~ '^spans_[0-9]{8}$'
    LOOP
        IF to_date(substr(part.relname, 7), 'YYYYMMDD') + 1 <= before THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END
$$;
REVOKE ALL ON FUNCTION argus_drop_span_partitions(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_drop_span_partitions(date) TO argus_app;
