-- Done outbox messages are deleted once they are older than the relay's retention
-- (OUTBOX_RETENTION_HOURS): this index finds them without scanning the pending ones.
CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
