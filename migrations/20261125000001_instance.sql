-- The Argus instance: one row, created with the database. Shown on the system status page
-- and used to tell deployments apart in logs.
CREATE TABLE instance (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    singleton   boolean     NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO instance DEFAULT VALUES;
