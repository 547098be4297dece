"""A Kubernetes API emulator for tests: the platform's one test double (docs/conventions.md).

No Kubernetes API server can run where the tests run, so the scheduler's `kubernetes`
backend is tested against this: a real HTTP server speaking the Kubernetes REST API to the
real kubernetes-asyncio client, with resourceVersions, watches (410 Gone included), the
API's error Statuses, strict validation of every object written (Kubernetes 1.29 and 1.37),
and stand-ins for the Deployment and ReplicaSet controllers, the garbage collector, the
namespace controller, the scheduler and the kubelet. It knows Kubernetes, not its callers:
tests say what pods do through `KubeEmulator.behaviour`.

kmock's `KubernetesEmulator` was the starting point considered and not used: it keeps no
resourceVersions (lists answer `"..."`), has no label or field selectors, no 409 on stale
writes, applies every patch as a dict merge, replays all objects on every watch (so no
resume and no 410), and runs no controllers; building on it would have meant replacing each
of its handlers behind its request-matching DSL. Its shapes (Status errors, discovery
documents) were followed.

Not modelled: server-side apply (415), strategic merge by list keys (lists are replaced),
authentication and RBAC, admission beyond namespace termination, Jobs and other kinds not in
`kinds.KINDS`, Endpoints, affinity and taints (only `nodeSelector`), resource requests in
scheduling, `minReadySeconds`, liveness probes restarting containers, HPAs scaling anything,
proportional scaling mid-rollout, ReplicaSets adopting orphans, `follow=true` on logs (the
lines so far are sent and the stream ends), and list snapshots (a paged list reads the
current state).

`deis_testing.plugin` gives each test a started emulator as the `kube_api` fixture.
"""

from deis_testing.kube.apiserver import Invalid
from deis_testing.kube.behaviours import (
    Behaviour,
    Crash,
    Exit,
    ImagePullFailure,
    NeverReady,
    OOMKilled,
    Ready,
)
from deis_testing.kube.emulator import KubeEmulator
from deis_testing.kube.timings import Timings

__all__ = [
    "Behaviour",
    "Crash",
    "Exit",
    "ImagePullFailure",
    "Invalid",
    "KubeEmulator",
    "NeverReady",
    "OOMKilled",
    "Ready",
    "Timings",
]
