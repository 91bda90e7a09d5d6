-- Two multi-statement transactions of every booking as one call each. Their statements must stay
-- separate statements: the first waits for a row lock, and the next must see what the lock holder
-- committed meanwhile (READ COMMITTED takes a new snapshot per statement; one statement with CTEs
-- would keep the snapshot taken before the wait). In a VOLATILE PL/pgSQL function each statement
-- also takes its own snapshot, so the semantics are those of the transaction, in one round trip
-- instead of four or five (BEGIN … COMMIT), and the function call is atomic on its own.

-- PaymentRepository.claim: STARTED or RETRY_SCHEDULED → PG_REQUESTED under the reservation's row
-- lock, only while the reservation is HELD and no other payment of it is charging or SUCCEEDED.
-- Returns the claimed row (status PG_REQUESTED); else the payment if it is still claimable (its
-- reservation is not payable: the caller fails it); else nothing.
CREATE FUNCTION claim_payment(p_id uuid, p_after integer) RETURNS SETOF payments
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM 1 FROM reservations r JOIN payments p ON p.reservation_id = r.id
    WHERE p.id = p_id FOR UPDATE OF r;
  RETURN QUERY
    UPDATE payments p SET status = 'PG_REQUESTED', attempts = p.attempts + 1, updated_at = now()
    WHERE p.id = p_id AND p.status IN ('STARTED', 'RETRY_SCHEDULED')
      AND (p_after IS NULL OR p.attempts = p_after)
      AND EXISTS (SELECT 1 FROM reservations r WHERE r.id = p.reservation_id AND r.status = 'HELD')
      AND NOT EXISTS (SELECT 1 FROM payments o WHERE o.reservation_id = p.reservation_id
                      AND o.id <> p.id AND o.status IN ('PG_REQUESTED', 'RETRY_SCHEDULED', 'SUCCEEDED'))
    RETURNING p.*;
  IF FOUND THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT * FROM payments p WHERE p.id = p_id AND p.status IN ('STARTED', 'RETRY_SCHEDULED')
      AND (p_after IS NULL OR p.attempts = p_after);
END
$$;

-- OutboxRepository.deliver: record that `p_consumer` applied message `p_id` (under the message's row
-- lock), and mark the message done once every one of `p_consumers` has. One row when this call
-- recorded the delivery, none when it was recorded before (a redelivery: apply nothing), so a
-- consumer writes its effect in the same statement: `INSERT … SELECT … FROM record_delivery(…)`.
CREATE FUNCTION record_delivery(p_id text, p_consumer text, p_consumers text[])
RETURNS SETOF integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM 1 FROM outbox WHERE id = p_id FOR UPDATE;
  INSERT INTO outbox_deliveries (message_id, consumer) VALUES (p_id, p_consumer)
    ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE outbox SET done_at = now(), last_error = NULL
    WHERE id = p_id AND done_at IS NULL AND cardinality(p_consumers) = (
      SELECT count(*) FROM outbox_deliveries
      WHERE message_id = p_id AND consumer = ANY (p_consumers));
  RETURN NEXT 1;
END
$$;
