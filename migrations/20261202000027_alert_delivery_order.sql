-- A channel's notifications arrive in the order they were queued: the claim also answers
-- the channel and the queue time, and the notifier sends one channel's deliveries one after
-- another (channels in parallel).
DROP FUNCTION argus_claim_alert_deliveries(integer, integer);
CREATE FUNCTION argus_claim_alert_deliveries(n integer, lease_secs integer)
    RETURNS TABLE (workspace_id uuid, id uuid, attempts integer, channel_id uuid, created_at timestamptz)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    UPDATE alert_deliveries d
    SET status = 'sending', attempts = d.attempts + 1,
        lease_until = now() + make_interval(secs => lease_secs)
    FROM (
        SELECT q.workspace_id, q.id FROM alert_deliveries q
        WHERE ((q.status = 'queued' AND q.next_at <= now())
               OR (q.status = 'sending' AND q.lease_until < now()))
        ORDER BY q.next_at, q.created_at
        LIMIT n
        FOR UPDATE SKIP LOCKED
    ) c
    WHERE d.workspace_id = c.workspace_id AND d.id = c.id
    RETURNING d.workspace_id, d.id, d.attempts, d.channel_id, d.created_at;
END
$$;
REVOKE ALL ON FUNCTION argus_claim_alert_deliveries(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION argus_claim_alert_deliveries(integer, integer) TO argus_app;
