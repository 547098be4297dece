"""NATS for Deis services: connection, fixed topology, publishing, consuming, KV watching, RPC.

Callers import the modules they need (`from deis_shared.bus import watching`); this package
re-exports nothing, so each name is read where it lives.
"""
