"""What the kubelet stand-in makes of a pod: chosen per pod by the test.

The emulator calls `behaviour(pod)` once, when it schedules the pod, with the pod as a dict;
the test decides from whatever it likes (image, env, labels), so the emulator needs to know
nothing of the caller's names. Each behaviour applies to every container of the pod.

- `Ready`: starts, and is ready `delay` seconds later (the readiness probe passes).
- `NeverReady`: starts and runs, never ready.
- `Exit`: starts, runs `delay` seconds, exits with `exit_code`. Under `restartPolicy: Never`
  (or `OnFailure` with code 0) the pod ends `Succeeded` or `Failed`; otherwise the container
  is restarted forever: `CrashLoopBackOff`, `lastState.terminated`, `restartCount` rising.
  `Crash` is an `Exit` with code 1 by default.
- `OOMKilled`: as `Exit` with code 137 and reason `OOMKilled`.
- `ImagePullFailure`: never starts: `ErrImagePull`, then `ImagePullBackOff`.

`logs` are the lines each run of the container writes, served by `pods/<name>/log`. A pod
under `restartPolicy: Never` with `Ready` or `NeverReady` runs until deleted (to test
timeouts).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Ready:
    """Start, then become ready after `delay` seconds."""

    delay: float = 0.05
    logs: tuple[str, ...] = ()


@dataclass(frozen=True)
class NeverReady:
    """Start and run, never ready."""

    logs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exit:
    """Run for `delay` seconds, then exit with `exit_code` (see the module doc)."""

    exit_code: int = 0
    logs: tuple[str, ...] = ()
    delay: float = 0.05
    reason: str = ""
    """The terminated state's reason; by default `Completed` for 0, else `Error`."""


@dataclass(frozen=True)
class Crash(Exit):
    """An `Exit` with a failing code."""

    exit_code: int = 1


@dataclass(frozen=True)
class OOMKilled(Exit):
    """Killed by the kernel for using more memory than its limit."""

    exit_code: int = 137
    reason: str = "OOMKilled"


@dataclass(frozen=True)
class ImagePullFailure:
    """The image cannot be pulled: the pod stays Pending."""

    message: str = "failed to pull and unpack image: not found"


Behaviour = Ready | NeverReady | Exit | ImagePullFailure
