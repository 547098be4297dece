"""The router agent's errors.

DeisError
├── PermanentError
│   ├── UnsafeValue      a value that would reach nginx's configuration failed the strict check
│   └── NginxFailed      nginx would not start, reload or take endpoints (the message is nginx's)
└── TransientError
    └── UnresolvedHost   an endpoint's host name did not resolve (the app keeps its old peers)
"""

from deis_shared.errors import PermanentError, TransientError


class UnsafeValue(PermanentError):
    """A host, domain, address or name that must not be written into nginx configuration."""


class NginxFailed(PermanentError):
    """nginx refused to start, died at start, or did not take a reload in time."""


class UnresolvedHost(TransientError):
    """An endpoint named a host that has no address now."""
