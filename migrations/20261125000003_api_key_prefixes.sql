-- Finding an API key happens before its workspace is known. The non-secret prefix maps to its
-- workspace here, outside RLS (it reveals nothing); the key itself, with its hash, is then read
-- under RLS bound to that workspace.
CREATE TABLE api_key_prefixes (
    prefix          text PRIMARY KEY,
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE
);

GRANT SELECT, INSERT, DELETE ON api_key_prefixes TO argus_app;
