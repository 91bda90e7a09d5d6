-- Transactional outbox: side effects outside the database (a BullMQ publish, a waiting-room
-- completion in Redis) are written here in the same transaction as the change that causes them,
-- then performed by a relay that every instance runs. A crash between the commit and the effect
-- delays the effect; it never loses it.
CREATE TABLE outbox (
  -- The message id, unique per effect (e.g. `payment.succeeded:<payment id>`): the relay's
  -- BullMQ jobId and the consumers' dedupe key derive from it, and a second insert is a no-op.
  id            text PRIMARY KEY,
  topic         text NOT NULL CHECK (topic IN ('payment.succeeded', 'room.complete')),
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Not before this time: a relay claims a row by moving it into the future (its lease), and a
  -- failed attempt by moving it further (backoff). A relay that died with a claim lets it lapse.
  available_at  timestamptz NOT NULL DEFAULT now(),
  attempts      integer NOT NULL DEFAULT 0,
  -- Who holds the current claim: only that relay marks the row done.
  claim_token   uuid,
  last_error    text,
  done_at       timestamptz
);
CREATE INDEX outbox_pending ON outbox (available_at) WHERE done_at IS NULL;
