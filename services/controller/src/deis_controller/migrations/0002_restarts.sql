-- Restart requests per app (`deis ps:restart`): target (`*`, a type or a pod name) -> counter,
-- carried to the scheduler in the `desired` value.
ALTER TABLE apps ADD COLUMN restarts jsonb NOT NULL DEFAULT '{}';
