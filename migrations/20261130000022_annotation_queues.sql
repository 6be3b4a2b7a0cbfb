-- Annotation queues: traces picked by the explorer's filters (sampled), the score configs
-- reviewers fill for each, and each reviewer's done or skipped mark. Scores themselves are the
-- ordinary annotation scores (source 'annotation'), so agreement is read from them.

CREATE TABLE annotation_queues (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    description     text        CHECK (length(description) <= 2000),
    -- The explorer query string it was filled from.
    filter          text        NOT NULL DEFAULT '',
    sampling        double precision NOT NULL CHECK (sampling > 0 AND sampling <= 1),
    -- The score configs (by name) a reviewer fills for each item.
    config_names    text[]      NOT NULL CHECK (cardinality(config_names) BETWEEN 1 AND 20),
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX annotation_queues_name_idx ON annotation_queues (workspace_id, name);

CREATE TABLE annotation_items (
    workspace_id    uuid        NOT NULL,
    queue_id        uuid        NOT NULL,
    trace_id        text        NOT NULL,
    -- Order of review (newest trace first when filled).
    position        integer     NOT NULL,
    PRIMARY KEY (workspace_id, queue_id, trace_id),
    FOREIGN KEY (workspace_id, queue_id) REFERENCES annotation_queues (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX annotation_items_position_idx ON annotation_items (workspace_id, queue_id, position);

CREATE TABLE annotation_reviews (
    workspace_id    uuid        NOT NULL,
    queue_id        uuid        NOT NULL,
    trace_id        text        NOT NULL,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          text        NOT NULL CHECK (status IN ('done', 'skipped')),
    reviewed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, queue_id, trace_id, user_id),
    FOREIGN KEY (workspace_id, queue_id, trace_id)
        REFERENCES annotation_items (workspace_id, queue_id, trace_id) ON DELETE CASCADE
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['annotation_queues', 'annotation_items', 'annotation_reviews'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON %I USING (workspace_id = argus_current_workspace()) '
            'WITH CHECK (workspace_id = argus_current_workspace())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON annotation_queues, annotation_items, annotation_reviews TO argus_app;
