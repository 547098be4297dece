"""Rules of automatic TLS: which domains are due, what an issued certificate is called, backoff.

Pure functions over times and names; the issuer (`app.issuing`) applies them.
"""

from datetime import datetime, timedelta
from typing import Final, Literal

State = Literal["pending", "issuing", "issued", "failed", "manual"]
"""Where a domain of an app under automatic TLS stands (table `acme_domains`):

- `pending`: no certificate yet, none being ordered;
- `issuing`: an order is open (its URL stored, so a restarted issuer resumes it);
- `issued`: the certificate is attached (renewed when a third of its life is left);
- `failed`: the last attempt failed; retried at `next_attempt` (never for a wildcard);
- `manual`: the domain carries an uploaded certificate, which automatic TLS leaves alone.
"""

WILDCARD: Final = (
    "a wildcard domain cannot be validated over HTTP (ACME HTTP-01): upload a certificate for it"
)
"""`last_error` of a wildcard domain, which is never ordered."""

NAME_PREFIX: Final = "auto-"
"""Names of issued certificates: `auto-<domain with dots as dashes>`."""

_NAME_MAX: Final = 63


def certificate_name(domain: str) -> str:
    """The certificate name of an issued certificate of `domain` (within the name rules).

    Names are unique across users; a long domain is cut, and two domains that differ only
    beyond the cut would share a name: the issuer then adds a suffix (`numbered`).
    """
    base = (NAME_PREFIX + domain.replace(".", "-")).lower()[:_NAME_MAX]
    return base.rstrip("-")


def numbered(name: str, *, number: int) -> str:
    """`name` with `-<number>` at its end, still within the length limit."""
    suffix = f"-{number}"
    return name[: _NAME_MAX - len(suffix)].rstrip("-") + suffix


def served_name(domain: str, *, platform_domain: str) -> str:
    """The name a domain is served (and certified) as.

    One without a dot (the app's default domain, named after the app) is a label under the
    platform domain, as the router serves it.
    """
    return domain if "." in domain else f"{domain}.{platform_domain}"


def is_wildcard(domain: str) -> bool:
    """Whether `domain` is a wildcard (`*.example.com`), which HTTP-01 cannot validate."""
    return domain.startswith("*")


def needs_renewal(*, starts: datetime, expires: datetime, now: datetime) -> bool:
    """Whether a certificate has less than a third of its lifetime left (Let's Encrypt's advice)."""
    lifetime = expires - starts
    return now >= expires - lifetime / 3


def backoff(
    *, attempts: int, minimum: float, maximum: float, retry_after: float | None = None
) -> timedelta:
    """Wait before the next try after `attempts` failures in a row: doubling, capped.

    A server's `Retry-After` (rate limits) is honoured when longer, even beyond the cap.
    """
    seconds = min(maximum, minimum * 2 ** max(0, attempts - 1))
    if retry_after is not None:
        seconds = max(seconds, retry_after)
    return timedelta(seconds=seconds)
