"""Use cases: follow KV into a routing table, apply it to nginx, tell the platform."""
