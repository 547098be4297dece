"""PostgreSQL access for services: pool, forward-only migrations, error tree.

`pool` opens the asyncpg pool in the service's schema, `migrations` applies SQL migrations,
`errors` is the tree every database failure is mapped to. Import the modules
(`from deis_shared.db import pool`); this package re-exports nothing.
"""
