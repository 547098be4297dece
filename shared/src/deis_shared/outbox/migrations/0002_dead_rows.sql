-- Dead rows: a row that cannot be published (larger than the server's max_payload, or refused
-- max_attempts times) is set aside instead of being retried forever. A dead row is final: the
-- relay never scans it again, and it no longer holds back the later rows of its KV key (a KV
-- value is level-triggered: the key's next row carries the whole value and supersedes it).
-- Dead rows keep their payload and last_error for inspection until the relay's dead-row
-- retention deletes them.
ALTER TABLE outbox
    -- Failed attempts that were the row's own fault (the server or client refused it), as
    -- opposed to NATS being away: only these count toward the relay's max_attempts.
    ADD COLUMN rejections integer NOT NULL DEFAULT 0,
    ADD COLUMN dead_at timestamptz,
    ADD CONSTRAINT outbox_sent_or_dead CHECK (sent_at IS NULL OR dead_at IS NULL);

-- What the relay scans: pending rows (neither sent nor dead) in publish order.
DROP INDEX outbox_unsent;
CREATE INDEX outbox_pending ON outbox (seq) WHERE sent_at IS NULL AND dead_at IS NULL;

-- Earlier pending rows of the same KV key, which hold later ones back; dead rows do not.
DROP INDEX outbox_unsent_keys;
CREATE INDEX outbox_pending_keys ON outbox (bucket, key, seq)
    WHERE sent_at IS NULL AND dead_at IS NULL AND kind <> 'event';

-- Retention and inspection: dead rows by age.
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;
