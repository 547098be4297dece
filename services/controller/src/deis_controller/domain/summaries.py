"""Release summaries: the one-line account of what a release changed (docs/api.md §3.3).

Worded as upstream's `Release.save` words them, key lists sorted so a summary does not depend on
dict order. The limits part is appended without the " and " joiner the other parts get, an
upstream quirk kept because clients and logs have always shown it that way.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from deis_controller.domain.config import ConfigData


@dataclass(frozen=True)
class BuildFacts:
    """What a summary says of a build."""

    owner: str
    sha: str
    image: str
    uuid: UUID


def _diff(new: dict[str, Any], old: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Keys added, changed and deleted going from `old` to `new`, each sorted."""
    added = sorted(key for key in new if key not in old)
    changed = sorted(key for key in new if key in old and new[key] != old[key])
    deleted = sorted(key for key in old if key not in new)
    return added, changed, deleted


def _changes(new: dict[str, Any], old: dict[str, Any], *, noun: str = "") -> str:
    """`added A, B, changed C, deleted D` (with `noun` after each verb); "" for no change."""
    groups = zip(("added", "changed", "deleted"), _diff(new, old), strict=True)
    return ", ".join(f"{verb} {noun}{', '.join(keys)}" for verb, keys in groups if keys)


def _and(summary: str, part: str) -> str:
    if not part:
        return summary
    return f"{summary} and {part}" if summary else part


def _build_part(old: BuildFacts | None, new: BuildFacts | None) -> str:
    if new is None or (old is not None and old.uuid == new.uuid):
        return ""
    return f"{new.owner} deployed {new.sha[:7] if new.sha else new.image}"


def _healthcheck_keys(healthcheck: dict[str, Any]) -> dict[str, Any]:
    """Healthchecks keyed as summaries name them: the empty proc type is `default`."""
    return {key or "default": value for key, value in healthcheck.items()}


def release_summary(
    *,
    user: str,  # noqa: ARG001  (the requester only appears in the caller's 409 message)
    old_build: BuildFacts | None,
    new_build: BuildFacts | None,
    old: ConfigData,
    new: ConfigData,
    config_owner: str,
) -> str | None:
    """The summary of a release going from (`old_build`, `old`) to (`new_build`, `new`).

    `config_owner` is the owner of the new config. `None` means nothing changed, which the
    caller answers with 409 "<user> changed nothing - release stopped".
    """
    summary = _build_part(old_build, new_build)
    owner = config_owner
    values = _changes(new.values, old.values)
    summary = _and(summary, values and f"{owner} {values}")
    limits = [name for name in ("memory", "cpu") if getattr(new, name) != getattr(old, name)]
    if limits:
        summary += f"{owner} changed limits for {', '.join(limits)}"
    tags = _changes(new.tags, old.tags, noun="tag ")
    summary = _and(summary, tags and f"{owner} {tags}")
    registry = _changes(new.registry, old.registry, noun="registry info ")
    summary = _and(summary, registry and f"{owner} {registry}")
    healthcheck = _changes(
        _healthcheck_keys(new.healthcheck),
        _healthcheck_keys(old.healthcheck),
        noun="healthcheck info for proc type ",
    )
    summary = _and(summary, healthcheck and f"{owner} {healthcheck}")
    return summary or None
