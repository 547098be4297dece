"""The `kubernetes` backend: apps as Deployments on a cluster, tracked through watches."""
