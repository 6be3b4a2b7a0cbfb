-- A signed-in user sees the workspaces they belong to (for the switcher and at log-in) without
-- a workspace being bound yet. The transaction-local setting app.current_user_id
-- (argus_current_user()) widens the *read* policies of memberships and workspaces to the user's
-- own rows; every write still needs the workspace binding.

CREATE FUNCTION argus_current_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.current_user_id', true), '')::uuid $$;

-- Permissive policies are OR-ed per command: SELECT sees the workspace's rows or the user's own;
-- INSERT / UPDATE / DELETE only the bound workspace's.
DROP POLICY workspace_isolation ON memberships;
CREATE POLICY membership_read ON memberships FOR SELECT
    USING (workspace_id = argus_current_workspace() OR user_id = argus_current_user());
CREATE POLICY membership_insert ON memberships FOR INSERT
    WITH CHECK (workspace_id = argus_current_workspace());
CREATE POLICY membership_update ON memberships FOR UPDATE
    USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
CREATE POLICY membership_delete ON memberships FOR DELETE
    USING (workspace_id = argus_current_workspace());

DROP POLICY workspace_isolation ON workspaces;
CREATE POLICY workspace_read ON workspaces FOR SELECT
    USING (
        id = argus_current_workspace()
        OR EXISTS (
            SELECT 1 FROM memberships m
            WHERE m.workspace_id = workspaces.id AND m.user_id = argus_current_user()
        )
    );
CREATE POLICY workspace_insert ON workspaces FOR INSERT
    WITH CHECK (id = argus_current_workspace());
CREATE POLICY workspace_update ON workspaces FOR UPDATE
    USING (id = argus_current_workspace())
    WITH CHECK (id = argus_current_workspace());
CREATE POLICY workspace_delete ON workspaces FOR DELETE
    USING (id = argus_current_workspace());
