"""deis_scheduler: desired state into running processes, with zero-downtime rollouts."""
