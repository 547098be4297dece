"""The builder's errors, and which of them a user sees as the one-line reason of a refusal.

    DeisError
    ├── PermanentError
    │   ├── Refused            the SSH command, app, key, user or ref is not allowed
    │   └── BuildFailed        the build itself failed: no buildpack, bad Procfile, pip error
    │       └── BuildTimedOut  the build ran past its time limit
    └── TransientError
        └── PushBusy           another push to the app holds its lock past the wait

Every message is one line meant for the pushing user: it ends up after `remote: ! ` or on the
SSH channel's stderr.
"""

from deis_shared.errors import PermanentError, TransientError


class Refused(PermanentError):
    """A push or clone that is not allowed; the message says why, in one line."""


class BuildFailed(PermanentError):
    """The build failed; the push is rejected and the app's current release keeps running."""


class BuildTimedOut(BuildFailed):
    """The build ran past `build_timeout` and was stopped."""


class PushBusy(TransientError):
    """Another push to the same app still holds its lock after the wait."""
