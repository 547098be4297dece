"""The slug runner: the container a Kubernetes pod of a slug-built app starts.

`deis-slugrunner start <type>` fetches the release's slug from the object store, unpacks it
into `/app`, and replaces itself with `/bin/sh -c "$DEIS_COMMAND"` in the slug's environment
(`main`). The contract is the scheduler's `deis_scheduler.kubernetes.manifests` (`pod_spec`).
"""
