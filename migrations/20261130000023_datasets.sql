-- Datasets and experiments: items to run an agent on (input, expected output, metadata), made
-- from traces or uploaded; runs of the agent over them, each a set of traces linked to items
-- (through the API or a `dataset.item_id` span attribute), whose scores are compared.

CREATE TABLE datasets (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    description     text        CHECK (length(description) <= 2000),
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX datasets_name_idx ON datasets (workspace_id, name);

CREATE TABLE dataset_items (
    workspace_id    uuid        NOT NULL,
    -- Unique in the workspace, so a span's `dataset.item_id` names one item.
    id              uuid        NOT NULL,
    dataset_id      uuid        NOT NULL,
    input           text        NOT NULL CHECK (length(input) <= 100000),
    expected_output text        CHECK (length(expected_output) <= 100000),
    metadata        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    source_trace_id text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Insertion order (an upload's lines keep theirs).
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, dataset_id) REFERENCES datasets (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX dataset_items_list_idx ON dataset_items (workspace_id, dataset_id, seq);
-- A trace is added to a dataset once.
CREATE UNIQUE INDEX dataset_items_source_idx ON dataset_items (workspace_id, dataset_id, source_trace_id)
    WHERE source_trace_id IS NOT NULL;

CREATE TABLE experiment_runs (
    workspace_id    uuid        NOT NULL,
    id              uuid        NOT NULL,
    dataset_id      uuid        NOT NULL,
    name            text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, dataset_id) REFERENCES datasets (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX experiment_runs_name_idx ON experiment_runs (workspace_id, dataset_id, name);

-- One trace per item and run (linked again: the newest trace counts).
CREATE TABLE experiment_results (
    workspace_id    uuid        NOT NULL,
    run_id          uuid        NOT NULL,
    item_id         uuid        NOT NULL,
    trace_id        text        NOT NULL CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    linked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, run_id, item_id),
    FOREIGN KEY (workspace_id, run_id) REFERENCES experiment_runs (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, item_id) REFERENCES dataset_items (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX experiment_results_item_idx ON experiment_results (workspace_id, item_id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['datasets', 'dataset_items', 'experiment_runs', 'experiment_results'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON datasets, dataset_items, experiment_runs, experiment_results TO argus_app;
