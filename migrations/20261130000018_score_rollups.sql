-- Score rollups per hour and per day, by score name and the dashboard's dimensions: count,
-- sum and sum of squares (so a mean and a variance, hence Welch's t), min and max for numbers;
-- one row per label for categorical and boolean scores (the counts per label). Kept in the
-- transaction that stores or deletes a score, so charts read rollups as the dashboard does.

CREATE TABLE score_rollup_hourly (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    bucket        timestamptz NOT NULL,
    name          text        NOT NULL,
    -- '' for a numeric score's row; the label for categorical and boolean ones.
    label         text        NOT NULL,
    agent         text        NOT NULL,
    department    text        NOT NULL,
    environment   text        NOT NULL,
    version       text        NOT NULL,
    n             bigint      NOT NULL,
    -- Over the rows' numeric values (a category's number, a boolean's 1 or 0).
    valued        bigint      NOT NULL,
    sum           double precision NOT NULL,
    sum_sq        double precision NOT NULL,
    min           double precision,
    max           double precision,
    PRIMARY KEY (workspace_id, bucket, name, label, agent, department, environment, version)
);
CREATE TABLE score_rollup_daily (LIKE score_rollup_hourly INCLUDING ALL);
ALTER TABLE score_rollup_daily
    ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
CREATE INDEX score_rollup_hourly_name_idx ON score_rollup_hourly (workspace_id, name, bucket);
CREATE INDEX score_rollup_daily_name_idx ON score_rollup_daily (workspace_id, name, bucket);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['score_rollup_hourly', 'score_rollup_daily'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON score_rollup_hourly, score_rollup_daily TO argus_app;
