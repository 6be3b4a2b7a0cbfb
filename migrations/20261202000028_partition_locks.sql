-- Day partitions of spans are made and dropped without stalling the table.
--
-- `CREATE TABLE … PARTITION OF spans` takes an ACCESS EXCLUSIVE lock on spans: it waits for
-- every running read and write of spans to finish, and every query of spans that arrives
-- meanwhile waits behind it. Seen in CI: a request making today's partition waited 10 s (the
-- statement timeout) and a trace page behind it 5.5 s. A new partition is now made as a plain
-- table and attached (`ATTACH PARTITION` needs only SHARE UPDATE EXCLUSIVE on spans, which reads
-- and writes do not conflict with), one maker at a time (a transaction advisory lock on the
-- name). The server also makes today's and the coming days' partitions ahead of time.
--
-- Dropping a partition still needs ACCESS EXCLUSIVE (the non-blocking DETACH … CONCURRENTLY
-- cannot run inside a function): the retention job now waits at most 2 s a partition and
-- leaves a busy one to its next pass (its rows are deleted row by row meanwhile).

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
    EXECUTE format('CREATE TABLE %I (LIKE spans INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXECUTE format(
        'ALTER TABLE spans ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
END
$$;

CREATE OR REPLACE FUNCTION argus_drop_span_partitions(before date) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '2s'
    AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'spans'::regclass AND c.relname ~ '^spans_[0-9]{8}$'
    LOOP
        IF to_date(substr(part.relname, 7), 'YYYYMMDD') + 1 <= before THEN
            BEGIN
                EXECUTE format('DROP TABLE %I', part.relname);
                dropped := dropped + 1;
            EXCEPTION WHEN lock_not_available THEN
                RAISE NOTICE 'partition % is busy: left to the next pass', part.relname;
            END;
        END IF;
    END LOOP;
    RETURN dropped;
END
$$;
