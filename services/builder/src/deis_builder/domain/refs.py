"""Which ref updates a push may make: the pre-receive hook's input, checked.

git gives the pre-receive hook one line per updated ref, `<old-sha> <new-sha> <ref>`. A push
deploys exactly one branch, `main` or `master` (as Heroku and Deis do); tags, other branches,
deletions and two branches at once are refused with the reason.
"""

import re
from dataclasses import dataclass

from deis_builder.errors import Refused

DEPLOY_BRANCHES = ("refs/heads/main", "refs/heads/master")
ZERO_SHA = "0" * 40
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class RefUpdate:
    """One accepted update: the branch and the commit to build."""

    ref: str
    old: str
    new: str

    @property
    def short_sha(self) -> str:
        """The commit's 7-character form, used in slug keys and events as Deis does."""
        return self.new[:7]


def parse_updates(text: str) -> RefUpdate:
    """The one deployable update in a pre-receive hook's input.

    Args:
        text: The hook's standard input.

    Returns:
        The update of `main` or `master`.

    Raises:
        Refused: Malformed input, no update, a deletion, a ref other than `main`/`master`,
            or more than one ref.
    """
    updates: list[RefUpdate] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not all(_SHA.fullmatch(p) for p in parts[:2]):
            raise Refused(f"malformed ref update {line[:80]!r}")
        old, new, ref = parts
        if ref not in DEPLOY_BRANCHES:
            raise Refused(f"pushes to {ref} are refused: push to main or master to deploy")
        if new == ZERO_SHA:
            raise Refused(f"deleting {ref} is refused")
        updates.append(RefUpdate(ref=ref, old=old, new=new))
    if not updates:
        raise Refused("nothing to deploy: the push updates no branch")
    if len(updates) > 1:
        raise Refused("push one branch at a time: main or master")
    return updates[0]
