-- Identity and tenancy: workspaces, users, memberships, API keys, and row-level security.
--
-- The server queries as `argus_app`: a role that owns nothing, is not a superuser and cannot
-- bypass RLS. Tenant tables carry workspace_id first in their keys; their policies compare it
-- with the transaction-local setting app.current_workspace_id (argus_current_workspace()).
-- A query that forgets the setting sees no rows and can write none.

-- Roles are cluster-wide: create it once, tolerate a concurrent creator.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'argus_app') THEN
        BEGIN
            CREATE ROLE argus_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    -- The migrating user switches to argus_app on every pooled connection (SET ROLE).
    IF NOT pg_has_role(current_user, 'argus_app', 'MEMBER') THEN
        EXECUTE format('GRANT argus_app TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO argus_app;

-- The workspace of the current transaction, or NULL when none was set.
CREATE FUNCTION argus_current_workspace() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.current_workspace_id', true), '')::uuid $$;

CREATE TABLE workspaces (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug            text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    is_active       boolean     NOT NULL DEFAULT true,
    retention_days  integer     NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 1 AND 3650),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Users exist across workspaces; they are not tenant data and carry no workspace_id.
CREATE TABLE users (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TYPE workspace_role AS ENUM ('owner', 'admin', 'member', 'viewer');

CREATE TABLE memberships (
    workspace_id    uuid           NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id         uuid           NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            workspace_role NOT NULL,
    created_at      timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE api_keys (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Non-secret, shown in lists and used to find the key; the secret is stored as SHA-256 only.
    prefix          text        NOT NULL UNIQUE CHECK (prefix ~ '^[a-z0-9]{8,32}$'),
    secret_sha256   bytea       NOT NULL CHECK (length(secret_sha256) = 32),
    scopes          text[]      NOT NULL CHECK (scopes <@ ARRAY['ingest', 'read', 'admin'] AND cardinality(scopes) > 0),
    created_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    PRIMARY KEY (workspace_id, id)
);

-- Row-level security: ENABLEd and FORCEd, so even the tables' owner is bound by it.
ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON workspaces
    USING (id = argus_current_workspace())
    WITH CHECK (id = argus_current_workspace());

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON memberships
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON api_keys
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());

GRANT SELECT, INSERT, UPDATE, DELETE ON workspaces, users, memberships, api_keys TO argus_app;
-- The status page and /readyz read these.
GRANT SELECT ON instance, _sqlx_migrations TO argus_app;
