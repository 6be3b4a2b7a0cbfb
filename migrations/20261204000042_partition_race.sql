-- Making a day partition from several replicas at once (each makes the coming days' partitions
-- at start and hourly): the maker that waited on the advisory lock re-checked `to_regclass`
-- with the catalog it had before the wait (an advisory lock does not refresh it), missed the
-- table the first maker had just committed, and failed with "relation … already exists".
-- Seen with three replicas starting together (scripts/replicas.sh). Now that case returns.
CREATE OR REPLACE FUNCTION argus_ensure_span_partition(day date) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '5s'
    AS $$
DECLARE
    name text := 'spans_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('argus span partition'), hashtext(name));
    IF to_regclass(name) IS NOT NULL THEN
        RETURN; -- made concurrently
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE %I (LIKE spans INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXCEPTION WHEN duplicate_table THEN
        RETURN; -- made (and attached) concurrently by the maker this one waited for
    END;
    EXECUTE format(
        'ALTER TABLE spans ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
END
$$;
