-- Workspace prices: an admin's own price for a model, which wins over the catalog (the cost a
-- span sends still wins over both), and the background recomputations a price change starts.

CREATE TABLE workspace_prices (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- As the admin wrote it, lowercased; matched like catalog names (exact, then normalised).
    model         text        NOT NULL CHECK (model <> '' AND model = lower(model)),
    -- USD per million tokens.
    input         numeric(14, 6) NOT NULL CHECK (input >= 0),
    output        numeric(14, 6) NOT NULL CHECK (output >= 0),
    cached_input  numeric(14, 6) CHECK (cached_input >= 0),
    cache_write   numeric(14, 6) CHECK (cache_write >= 0),
    updated_by    uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, model)
);

-- One row per price change: the spans of the affected models are re-priced in bounded batches
-- by a background task, their traces and rollups adjusted in the same transactions.
CREATE TABLE price_jobs (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid        NOT NULL,
    model         text        NOT NULL,
    status        text        NOT NULL DEFAULT 'queued'
                              CHECK (status IN ('queued', 'running', 'done', 'failed')),
    spans_updated bigint      NOT NULL DEFAULT 0,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX price_jobs_recent_idx ON price_jobs (workspace_id, created_at DESC);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workspace_prices', 'price_jobs'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON workspace_prices, price_jobs TO argus_app;

-- Jobs left unfinished (a server stopped mid-way), across workspaces, so a starting server can
-- resume them. Runs as the owner: it reveals ids only, never data.
CREATE FUNCTION argus_unfinished_price_jobs() RETURNS TABLE (workspace_id uuid, id uuid, model text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT workspace_id, id, model FROM price_jobs
        WHERE status IN ('queued', 'running') ORDER BY created_at
    $$;
REVOKE ALL ON FUNCTION argus_unfinished_price_jobs() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_unfinished_price_jobs() TO argus_app;
