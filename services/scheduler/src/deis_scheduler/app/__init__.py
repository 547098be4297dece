"""Use cases of the scheduler: per-app reconciliation, rollouts, supervision, published state."""
