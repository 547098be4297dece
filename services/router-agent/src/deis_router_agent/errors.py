"""The router agent's errors.

DeisError
├── PermanentError
│   ├── UnsafeValue      a value that would reach nginx's configuration failed the strict check
│   ├── NginxFailed      nginx would not start, reload or take endpoints (the message is nginx's)
│   └── BadPlatformCertificate  the platform certificate's files are unreadable or do not match
└── TransientError
    └── UnresolvedHost   an endpoint's host name did not resolve (the app keeps its old peers)
"""

from deis_shared.errors import PermanentError, TransientError


class UnsafeValue(PermanentError):
    """A host, domain, address or name that must not be written into nginx configuration."""


class NginxFailed(PermanentError):
    """nginx refused to start, died at start, or did not take a reload in time."""


class BadPlatformCertificate(PermanentError):
    """`DEIS_PLATFORM_CERT_FILE`/`_KEY_FILE` cannot be read, parsed, or are not one pair."""


class UnresolvedHost(TransientError):
    """An endpoint named a host that has no address now."""
