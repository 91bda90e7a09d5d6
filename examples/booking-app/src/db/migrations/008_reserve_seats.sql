-- ReservationService.reserve's transaction as one call (see 007 for why a VOLATILE PL/pgSQL
-- function: each statement takes its own snapshot, so the seat count after the user's row lock sees
-- what a parallel request of the same user committed while this one waited).
-- Under the user's lock: the cap, the reservation, its seats HELD only where the lock's fence is
-- newer than the seat's, their reservation_seats rows and the business event. All or nothing: when
-- a seat is not AVAILABLE or its fence not below the lock's, the block's writes are rolled back and
-- the row names the seats that were updatable (`id` NULL); over the cap nothing is written and
-- `seats` is empty. `held`: the user's seats of the concert before this reservation.
CREATE FUNCTION reserve_seats(
  p_user integer, p_concert integer, p_hold text, p_fence bigint, p_amount integer,
  p_expires timestamptz, p_max integer, p_seats integer[], p_fences bigint[], p_prices integer[],
  p_event_type text, p_event_data jsonb)
RETURNS TABLE (held integer, id uuid, seats integer[])
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_held integer;
  v_id uuid;
  v_seats integer[];
BEGIN
  PERFORM 1 FROM users u WHERE u.id = p_user FOR NO KEY UPDATE;
  SELECT count(*)::int INTO v_held FROM seats us JOIN reservations ur ON ur.id = us.reservation_id
    WHERE ur.user_id = p_user AND ur.concert_id = p_concert AND ur.status IN ('HELD', 'CONFIRMED')
      AND us.status IN ('HELD', 'ASSIGNED');
  IF v_held + cardinality(p_seats) > p_max THEN
    RETURN QUERY SELECT v_held, NULL::uuid, ARRAY[]::integer[];
    RETURN;
  END IF;
  BEGIN
    INSERT INTO reservations (user_id, concert_id, status, hold_id, fence, amount_cents, expires_at)
      VALUES (p_user, p_concert, 'HELD', p_hold, p_fence, p_amount, p_expires)
      RETURNING reservations.id INTO v_id;
    WITH asked AS (
           SELECT * FROM unnest(p_seats, p_fences, p_prices) AS a(seat_id, fence, price_cents)),
         upd AS (
           UPDATE seats s SET status = 'HELD', reservation_id = v_id, fence = a.fence,
                  updated_at = now()
             FROM asked a
            WHERE s.id = a.seat_id AND s.status = 'AVAILABLE' AND s.fence < a.fence
           RETURNING s.id, a.price_cents),
         rs AS (
           INSERT INTO reservation_seats (reservation_id, seat_id, price_cents)
           SELECT v_id, upd.id, upd.price_cents FROM upd)
    SELECT coalesce(array_agg(upd.id), ARRAY[]::integer[]) INTO v_seats FROM upd;
    IF cardinality(v_seats) < cardinality(p_seats) THEN
      RAISE EXCEPTION USING ERRCODE = 'BO001'; -- caught below: undoes this block's writes
    END IF;
  EXCEPTION WHEN SQLSTATE 'BO001' THEN
    RETURN QUERY SELECT v_held, NULL::uuid, v_seats;
    RETURN;
  END;
  INSERT INTO business_events (type, outcome, subject, data, user_id)
    VALUES (p_event_type, 'success', 'reservation:' || v_id, p_event_data, p_user);
  RETURN QUERY SELECT v_held, v_id, v_seats;
END
$$;
