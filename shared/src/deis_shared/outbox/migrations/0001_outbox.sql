-- The transactional outbox: rows written in the same transaction as the change they announce,
-- published to NATS by the relay (deis_shared.outbox.relay) and marked sent.
CREATE TABLE outbox (
    id uuid PRIMARY KEY,                      -- the Nats-Msg-Id: JetStream drops re-publishes
    seq bigserial NOT NULL,                   -- publish order
    kind text NOT NULL CHECK (kind IN ('event', 'kv_put', 'kv_delete')),
    subject text,                             -- events
    bucket text,                              -- KV puts and deletes
    key text,
    payload bytea NOT NULL DEFAULT ''::bytea,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    -- -infinity: due at once on any clock; retries get the relay's clock plus backoff.
    next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
    last_error text,
    sent_at timestamptz,
    CHECK (
        (kind = 'event' AND subject IS NOT NULL)
        OR (kind <> 'event' AND bucket IS NOT NULL AND key IS NOT NULL)
    )
);

-- What the relay scans: unsent rows in publish order.
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- Earlier unsent rows of the same KV key, which hold later ones back.
CREATE INDEX outbox_unsent_keys ON outbox (bucket, key, seq)
    WHERE sent_at IS NULL AND kind <> 'event';

-- Retention: sent rows by age.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
