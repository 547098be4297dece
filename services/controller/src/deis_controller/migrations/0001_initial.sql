-- The controller's data (API.md §3.1). Owners are RESTRICT: a user who still owns
-- something cannot be deleted (`auth/cancel` answers 409), as in Deis.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    email         text NOT NULL DEFAULT '',
    first_name    text NOT NULL DEFAULT '',
    last_name     text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    is_superuser  boolean NOT NULL DEFAULT false,
    is_staff      boolean NOT NULL DEFAULT false,
    is_active     boolean NOT NULL DEFAULT true,
    last_login    timestamptz,
    date_joined   timestamptz NOT NULL DEFAULT now()
);

-- API tokens; only their SHA-256 is kept, so a login issues a new one (the old ones stay
-- valid until `auth/tokens` regenerates, which revokes them all).
CREATE TABLE tokens (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE apps (
    uuid      uuid PRIMARY KEY,
    id        text NOT NULL UNIQUE,
    owner_id  bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    structure jsonb NOT NULL DEFAULT '{}',
    created   timestamptz NOT NULL DEFAULT now(),
    updated   timestamptz NOT NULL DEFAULT now()
);

-- Collaborators (`use_app`); the owner is not listed.
CREATE TABLE app_perms (
    app_uuid uuid NOT NULL REFERENCES apps (uuid) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_uuid, user_id)
);

CREATE TABLE builds (
    uuid       uuid PRIMARY KEY,
    app_uuid   uuid NOT NULL REFERENCES apps (uuid) ON DELETE CASCADE,
    owner_id   bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    image      text NOT NULL,
    sha        text NOT NULL DEFAULT '',
    procfile   jsonb NOT NULL DEFAULT '{}',
    dockerfile text NOT NULL DEFAULT '',
    slug_key   text,
    created    timestamptz NOT NULL DEFAULT now(),
    updated    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX builds_app ON builds (app_uuid, created DESC);

CREATE TABLE configs (
    uuid        uuid PRIMARY KEY,
    app_uuid    uuid NOT NULL REFERENCES apps (uuid) ON DELETE CASCADE,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    "values"    jsonb NOT NULL DEFAULT '{}',
    memory      jsonb NOT NULL DEFAULT '{}',
    cpu         jsonb NOT NULL DEFAULT '{}',
    tags        jsonb NOT NULL DEFAULT '{}',
    registry    jsonb NOT NULL DEFAULT '{}',
    healthcheck jsonb NOT NULL DEFAULT '{}',
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE releases (
    uuid        uuid PRIMARY KEY,
    app_uuid    uuid NOT NULL REFERENCES apps (uuid) ON DELETE CASCADE,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    version     integer NOT NULL CHECK (version >= 1),
    summary     text NOT NULL DEFAULT '',
    failed      boolean NOT NULL DEFAULT false,
    config_uuid uuid NOT NULL REFERENCES configs (uuid),
    build_uuid  uuid REFERENCES builds (uuid),
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app_uuid, version)
);

CREATE TABLE certificates (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    certificate text NOT NULL,
    key         text NOT NULL,
    common_name text,
    san         jsonb NOT NULL DEFAULT '[]',
    fingerprint text NOT NULL,
    issuer      text NOT NULL DEFAULT '',
    subject     text NOT NULL DEFAULT '',
    starts      timestamptz NOT NULL,
    expires     timestamptz NOT NULL,
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE domains (
    id             bigserial PRIMARY KEY,
    app_uuid       uuid NOT NULL REFERENCES apps (uuid) ON DELETE CASCADE,
    owner_id       bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    domain         text NOT NULL UNIQUE,
    certificate_id bigint REFERENCES certificates (id) ON DELETE SET NULL,
    created        timestamptz NOT NULL DEFAULT now(),
    updated        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX domains_app ON domains (app_uuid);

CREATE TABLE keys (
    uuid        uuid PRIMARY KEY,
    id          text NOT NULL UNIQUE,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public      text NOT NULL UNIQUE,
    fingerprint text NOT NULL UNIQUE,
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now()
);

-- Append-only histories: the latest row is current.
CREATE TABLE app_settings (
    seq         bigserial PRIMARY KEY,
    uuid        uuid NOT NULL UNIQUE,
    app_uuid    uuid NOT NULL REFERENCES apps (uuid) ON DELETE CASCADE,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    maintenance boolean NOT NULL DEFAULT false,
    routable    boolean NOT NULL DEFAULT true,
    whitelist   jsonb NOT NULL DEFAULT '[]',
    autoscale   jsonb NOT NULL DEFAULT '{}',
    label       jsonb NOT NULL DEFAULT '{}',
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_settings_app ON app_settings (app_uuid, seq DESC);

CREATE TABLE tls (
    seq            bigserial PRIMARY KEY,
    uuid           uuid NOT NULL UNIQUE,
    app_uuid       uuid NOT NULL REFERENCES apps (uuid) ON DELETE CASCADE,
    owner_id       bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    https_enforced boolean,
    created        timestamptz NOT NULL DEFAULT now(),
    updated        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tls_app ON tls (app_uuid, seq DESC);

-- Build events already turned into releases: a redelivered event creates nothing.
CREATE TABLE processed_builds (
    build_id     uuid PRIMARY KEY,
    app          text NOT NULL,
    release_uuid uuid,
    created      timestamptz NOT NULL DEFAULT now()
);
