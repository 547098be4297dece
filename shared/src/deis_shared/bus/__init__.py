"""NATS for Deis services: connection, fixed topology, publishing, consuming, typed KV, RPC.

Callers import the modules they need (`from deis_shared.bus import watching`); this package
re-exports nothing, so each name is read where it lives. Services import no `nats` (an
import-linter contract): what they need of nats-py is here, its types as `connection.Client`,
`connection.JetStream` and `connection.Msg`, its exceptions translated to `errors.BusError`.
"""
