-- LLM-as-judge: each workspace names one OpenAI-compatible chat endpoint (base URL, model, an
-- API key sealed with AES-256-GCM under the server's key, bound to the workspace), and an
-- evaluator may cap what its judge spends a day (UTC).

CREATE TABLE judges (
    workspace_id    uuid        PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    base_url        text        NOT NULL CHECK (base_url <> '' AND length(base_url) <= 500),
    model           text        NOT NULL CHECK (model <> '' AND length(model) <= 200),
    -- nonce ‖ ciphertext ‖ tag; NULL for an endpoint without a key (a local model).
    api_key         bytea,
    -- The key's last four characters, to tell keys apart; never the key.
    key_hint        text,
    timeout_ms      integer     NOT NULL DEFAULT 30000 CHECK (timeout_ms BETWEEN 100 AND 300000),
    updated_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE judges ENABLE ROW LEVEL SECURITY;
ALTER TABLE judges FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON judges USING (workspace_id = argus_current_workspace())
    WITH CHECK (workspace_id = argus_current_workspace());
GRANT SELECT, INSERT, UPDATE, DELETE ON judges TO argus_app;

ALTER TABLE evaluators ADD COLUMN daily_limit_usd double precision
    CHECK (daily_limit_usd > 0 AND daily_limit_usd < 1e9);
