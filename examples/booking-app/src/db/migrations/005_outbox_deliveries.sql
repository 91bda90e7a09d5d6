-- End-to-end delivery of fanned-out outbox messages. A `payment.succeeded` row is no longer done
-- once it is handed to BullMQ (Redis may lose the jobs): each consumer records its effect here in
-- the same transaction as the effect itself, and the row is done only when every consumer has.
-- The relay re-publishes a row whose deliveries are still missing after a bounded time.
CREATE TABLE outbox_deliveries (
  -- The outbox message (its id is the event id the consumers see).
  message_id  text NOT NULL,
  consumer    text NOT NULL,
  done_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, consumer)
);
CREATE INDEX outbox_deliveries_done ON outbox_deliveries (done_at);
-- How many times the relay handed the message to its consumers' queues (0: never).
ALTER TABLE outbox ADD COLUMN published integer NOT NULL DEFAULT 0;
