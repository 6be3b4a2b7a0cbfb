-- Resources stored once, not on every span.
--
-- An OTLP request groups spans under their resource (the agent process: service name and
-- version, environment, host, SDK …), and every span of it carried a copy of those attributes:
-- a fifth of a span row. They now live in `resources`, keyed per workspace by a 64-bit hash of
-- their canonical JSON (computed by the server), and spans point to theirs.
--
-- Also: spans lose the (workspace, department, time) index. Lists, filters and charts read
-- `traces` (which keeps it) and the rollups; spans are read by trace, and by time for
-- reconcile and retention (spans_time_idx stays). One index fewer makes every stored span
-- cheaper.

CREATE TABLE resources (
    workspace_id uuid        NOT NULL,
    resource_id  bigint      NOT NULL,
    attributes   jsonb       NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, resource_id)
);
ALTER TABLE resources ENABLE ROW LEVEL SECURITY;
ALTER TABLE resources FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON resources USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON resources TO argus_app;

ALTER TABLE spans ADD COLUMN resource_id bigint;

-- Existing spans: their resources, hashed here (a later copy of the same attributes sent
-- again gets the server's hash: at worst two rows with equal attributes).
INSERT INTO resources (workspace_id, resource_id, attributes)
SELECT DISTINCT ON (workspace_id, h) workspace_id, h, resource
FROM (
    SELECT workspace_id, resource,
           ('x' || left(encode(sha256(convert_to(resource::text, 'UTF8')), 'hex'), 16))::bit(64)::bigint AS h
    FROM spans
) s
ON CONFLICT DO NOTHING;
UPDATE spans SET resource_id =
    ('x' || left(encode(sha256(convert_to(resource::text, 'UTF8')), 'hex'), 16))::bit(64)::bigint;

ALTER TABLE spans DROP COLUMN resource;
ALTER TABLE spans ALTER COLUMN resource_id SET NOT NULL;
DROP INDEX spans_department_time_idx;
