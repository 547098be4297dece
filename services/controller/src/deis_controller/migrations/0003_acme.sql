-- Automatic TLS (ACME): whether an app wants it, where each of its domains stands, and the
-- account the issuer signs with.

-- Null (never set) is off, as false is.
ALTER TABLE tls ADD COLUMN certs_auto_enabled boolean;

-- One account key per ACME directory, made once and reused across restarts and replicas.
CREATE TABLE acme_accounts (
    directory text PRIMARY KEY,
    key       text NOT NULL,          -- the account's private key, as a JWK (JSON)
    uri       text,                   -- the account's URL at the directory, once registered
    created   timestamptz NOT NULL DEFAULT now()
);

-- The issuance state of each domain of an app under automatic TLS. Keyed by the app and the
-- domain's name rather than by a reference, so a removed domain (or app) leaves its row for
-- the issuer to find, and to delete its certificate with.
CREATE TABLE acme_domains (
    app_uuid       uuid NOT NULL,
    domain         text NOT NULL,
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'issuing', 'issued', 'failed', 'manual')),
    order_url      text,              -- the order being worked on (kept once issued)
    order_key      text,              -- the private key of that order's CSR (PEM)
    certificate_id bigint REFERENCES certificates (id) ON DELETE SET NULL,
    expires        timestamptz,
    last_error     text,
    attempts       integer NOT NULL DEFAULT 0,
    next_attempt   timestamptz,
    created        timestamptz NOT NULL DEFAULT now(),
    updated        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_uuid, domain)
);
