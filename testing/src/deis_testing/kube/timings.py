"""How fast the emulated cluster moves; tests may change any of these on a running emulator."""

from dataclasses import dataclass


@dataclass
class Timings:
    """Delays in seconds of the controllers' and kubelet's steps."""

    start: float = 0.01
    """From a pod's scheduling to its containers starting (or failing to pull)."""
    backoff: float = 0.1
    """Between a container's exit and its restart; ErrImagePull to ImagePullBackOff."""
    pod_termination: float = 0.02
    """From a pod's deletion to its going (`terminationGracePeriodSeconds` is nominal)."""
    namespace_termination: float = 0.05
    """From a namespace's deletion to the removal of what is in it."""
    deadline_scale: float = 0.01
    """Multiplies a Deployment's `progressDeadlineSeconds` (600 s becomes 6 s)."""
    bookmark_interval: float = 1.0
    """Between BOOKMARK events on an idle watch that allows them."""
