-- Accounts that can be defended: sessions the server can end, one-time password-reset links,
-- invitations instead of silent membership, and the workspace a user used last.

-- Every signed-in session. A session token names its row (`sid`); a revoked or expired row
-- ends the token at once, whatever its own expiry says. Not tenant data (a session belongs to a
-- user, across workspaces): no workspace_id, no RLS; the server reads it by id or by user.
CREATE TABLE user_sessions (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    -- Shown to the user in their list of sessions.
    user_agent  text        CHECK (length(user_agent) <= 300),
    client_ip   text        CHECK (length(client_ip) <= 64)
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, expires_at) WHERE revoked_at IS NULL;

-- One-time links to set a password (made by an admin for a member, or by the CLI). Only the
-- SHA-256 of the token is stored.
CREATE TABLE password_resets (
    token_sha256  bytea       PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by    uuid        REFERENCES users (id) ON DELETE SET NULL,
    workspace_id  uuid        REFERENCES workspaces (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

ALTER TABLE users ADD COLUMN last_workspace_id uuid REFERENCES workspaces (id) ON DELETE SET NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON user_sessions, password_resets TO argus_app;

-- Invitations: tenant data. A member is added only when the invitee accepts.
CREATE TABLE invitations (
    workspace_id  uuid           NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid           NOT NULL DEFAULT gen_random_uuid(),
    email         text           NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    role          workspace_role NOT NULL,
    -- The workspace's name when invited: the invitee cannot read the workspace before joining.
    workspace_name text          NOT NULL,
    -- The link's secret, as SHA-256: whoever holds the link may sign up with it.
    token_sha256  bytea          NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    invited_by    uuid           REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz    NOT NULL DEFAULT now(),
    expires_at    timestamptz    NOT NULL,
    status        text           NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    responded_at  timestamptz,
    PRIMARY KEY (workspace_id, id)
);
-- One pending invitation per address and workspace.
CREATE UNIQUE INDEX invitations_pending_key ON invitations (workspace_id, lower(email))
    WHERE status = 'pending';
CREATE INDEX invitations_email_idx ON invitations (lower(email)) WHERE status = 'pending';

-- The email of the signed-in user of this transaction (app.current_user_id), for the
-- invitee's read policy.
CREATE FUNCTION argus_current_user_email() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT lower(email) FROM users WHERE id = argus_current_user() $$;

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
-- The workspace reads and writes its invitations; an invitee reads those addressed to them.
CREATE POLICY invitation_read ON invitations FOR SELECT
    USING (workspace_id = argus_current_workspace() OR lower(email) = argus_current_user_email());
CREATE POLICY invitation_insert ON invitations FOR INSERT
    WITH CHECK (workspace_id = argus_current_workspace());
CREATE POLICY invitation_update ON invitations FOR UPDATE
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
CREATE POLICY invitation_delete ON invitations FOR DELETE
    USING (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON invitations TO argus_app;

-- An invitation by its link, before anyone is signed in (the link is the credential).
CREATE FUNCTION argus_invitation_by_token(token bytea)
    RETURNS TABLE (workspace_id uuid, id uuid, email text, role workspace_role, status text,
                   expires_at timestamptz, workspace_name text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT i.workspace_id, i.id, i.email, i.role, i.status, i.expires_at, i.workspace_name
        FROM invitations i JOIN workspaces w ON w.id = i.workspace_id
        WHERE i.token_sha256 = token AND w.is_active
    $$;
REVOKE ALL ON FUNCTION argus_invitation_by_token(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_invitation_by_token(bytea) TO argus_app;

