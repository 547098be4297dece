-- Push and build history: who pushed what to which app, how long it took, how it ended.
CREATE TABLE pushes (
    id          uuid PRIMARY KEY,
    app         text NOT NULL,
    username    text NOT NULL,
    fingerprint text NOT NULL,
    ref         text,
    sha         text,
    buildpack   text,
    slug_key    text,
    slug_bytes  bigint,
    started     timestamptz NOT NULL DEFAULT now(),
    finished    timestamptz,
    duration_seconds double precision,
    result      text NOT NULL DEFAULT 'running'
        CHECK (result IN ('running', 'succeeded', 'failed', 'rejected')),
    reason      text NOT NULL DEFAULT '',
    version     integer
);

CREATE INDEX pushes_app_started ON pushes (app, started DESC);
