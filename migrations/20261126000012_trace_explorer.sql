-- The trace explorer: what the list filters and sorts on, each with an index.
--
-- traces gains
--   tags      the union of the spans' `tags` attributes (the native API's trace tags);
--   metadata  the spans' `metadata` objects merged (native `metadata`; OTLP `metadata.*`);
--   search    a tsvector ('simple': no stemming, any language) of the span names and the text
--             of their input and output messages (words of at most 64 bytes; a batch adds at
--             most 16 KiB of text, and a trace stops growing at 1,500 distinct words, which
--             keeps it far below the tsvector's 1 MB limit — argus_domain::ingest::store);
--             GIN-indexed, so free-text search is an index read.
-- and one keyset index per sort: time (traces_time_idx, as it was), latency, cost. Sessions
-- and end users are looked up by their own indexes.

ALTER TABLE traces
    ADD COLUMN tags     text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN metadata jsonb    NOT NULL DEFAULT '{}',
    ADD COLUMN search   tsvector NOT NULL DEFAULT ''::tsvector;

-- Traces stored before this migration: their search text from their spans.
UPDATE traces t SET search = s.search
FROM (
    SELECT workspace_id, trace_id,
           to_tsvector('simple', left(string_agg(
               name || ' ' || coalesce(input::text, '') || ' ' || coalesce(output::text, ''),
               ' '), 16384)) AS search
    FROM spans
    GROUP BY workspace_id, trace_id
) s
WHERE s.workspace_id = t.workspace_id AND s.trace_id = t.trace_id;

-- Row-level security lets the planner use an operator in an index condition only if it is
-- leakproof. numeric comparisons are not, so the cost keyset is on a bigint (nano-USD, kept by
-- PostgreSQL itself, re-pricing included); bigint, text and timestamptz comparisons are.
ALTER TABLE traces ADD COLUMN cost_nanos bigint
    GENERATED ALWAYS AS ((cost_usd * 1000000000)::bigint) STORED;

CREATE INDEX traces_latency_idx ON traces (workspace_id, latency_us DESC, trace_id DESC);
CREATE INDEX traces_cost_idx ON traces (workspace_id, cost_nanos DESC, trace_id DESC);
CREATE INDEX traces_session_idx ON traces (workspace_id, session_id, start_time)
    WHERE session_id IS NOT NULL;
CREATE INDEX traces_user_idx ON traces (workspace_id, user_id, start_time DESC)
    WHERE user_id IS NOT NULL;
-- Text search (@@) and array containment (@>) are not marked leakproof either, which under
-- row-level security would turn every search into a scan of the workspace's traces. They raise
-- no error that depends on a row's content, so a superuser marks them leakproof here (in this
-- database only). Migrated by a role that is not superuser, search still works, by scanning.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
        ALTER FUNCTION pg_catalog.arraycontains(anyarray, anyarray) LEAKPROOF;
    ELSE
        RAISE NOTICE 'not a superuser: free-text search and tag filters will scan instead of using their indexes';
    END IF;
END
$$;

-- (workspace_id, search) in one GIN index (btree_gin, a trusted contrib extension): one
-- workspace's matches, not every workspace's matches filtered.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX traces_search_idx ON traces USING gin (workspace_id, search);
CREATE INDEX traces_tags_idx ON traces USING gin (workspace_id, tags);

-- An admin's choice of department for an agent; ingestion keeps `department` current from the
-- spans, and the registry shows the override when there is one.
ALTER TABLE agents ADD COLUMN department_override text;
