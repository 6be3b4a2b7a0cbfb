-- When each combination of the rollup dimensions first sent a span, to the hour: the activity
-- stream's "new agent / model / version" under any filters reads these few rows (one per
-- combination ever seen) instead of the whole history of the daily rollup (40 ms at 10 M
-- traces, on every uncached home page). Written with the rollups (least hour wins, so late
-- and out-of-order batches are right); never trimmed by retention: what was seen stays seen.
CREATE TABLE rollup_first_seen (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    department   text        NOT NULL,
    agent        text        NOT NULL,
    environment  text        NOT NULL,
    version      text        NOT NULL,
    model        text        NOT NULL,
    first_hour   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, department, agent, environment, version, model)
);
ALTER TABLE rollup_first_seen ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_first_seen FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON rollup_first_seen
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollup_first_seen TO argus_app;

-- Fills the table from the hourly rollup (for tools that write rollups in bulk, and below).
CREATE FUNCTION argus_rebuild_first_seen() RETURNS void LANGUAGE sql AS $$
    INSERT INTO rollup_first_seen AS f
        (workspace_id, department, agent, environment, version, model, first_hour)
    SELECT workspace_id, department, agent, environment, version, model, min(bucket)
    FROM rollup_hourly
    GROUP BY workspace_id, department, agent, environment, version, model
    ON CONFLICT (workspace_id, department, agent, environment, version, model)
    DO UPDATE SET first_hour = excluded.first_hour WHERE excluded.first_hour < f.first_hour;
$$;
SELECT argus_rebuild_first_seen();
