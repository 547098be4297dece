"""The router agent's errors.

DeisError
├── PermanentError
│   ├── UnsafeValue      a value that would reach nginx's configuration failed the strict check
│   └── NginxFailed      nginx would not start or reload (the message is nginx's)
└── TransientError       (from adapters: NATS) retried by the watcher
"""

from deis_shared.errors import PermanentError


class UnsafeValue(PermanentError):
    """A host, domain, address or name that must not be written into nginx configuration."""


class NginxFailed(PermanentError):
    """nginx refused to start, died at start, or did not take a reload in time."""
