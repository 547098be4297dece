"""The transactional outbox: NATS writes that commit or roll back with a Postgres change.

A service writes its change and an outbox row in one transaction (`outbox`); a relay
(`relay`) publishes committed rows to JetStream with the row id as `Nats-Msg-Id` and marks
them sent, so a crash anywhere is healed by publishing again and letting JetStream drop the
duplicate. A row that cannot be published is set aside as dead and reported (`dead`) rather
than blocking the rows behind it. The table ships as migrations in this package (`schema`).

Import the modules: `from deis_shared.outbox import relay`.
"""
