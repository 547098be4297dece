-- Written by `deisctl compose-env`: run once, when PostgreSQL starts on an empty volume.
-- Each service logs in as a role of its own that owns its schema (as `deisctl up`'s
-- provisioning makes them); the passwords come from the container's environment.
\set ON_ERROR_STOP on
\getenv controller_password PG_CONTROLLER_PASSWORD
\if :{?controller_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'PG_CONTROLLER_PASSWORD is not set (deisctl compose-env)'; END $$;
\endif
\getenv builder_password PG_BUILDER_PASSWORD
\if :{?builder_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'PG_BUILDER_PASSWORD is not set (deisctl compose-env)'; END $$;
\endif
BEGIN;
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE ROLE "deis_controller" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'controller_password';
GRANT CONNECT ON DATABASE postgres TO "deis_controller";
CREATE SCHEMA IF NOT EXISTS "controller" AUTHORIZATION "deis_controller";
CREATE ROLE "deis_builder" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'builder_password';
GRANT CONNECT ON DATABASE postgres TO "deis_builder";
CREATE SCHEMA IF NOT EXISTS "builder" AUTHORIZATION "deis_builder";
COMMIT;
