"""Which ref updates a push may make."""

import pytest

from deis_builder.domain import refs
from deis_builder.errors import Refused

OLD = "0" * 40
NEW = "a" * 40
OTHER = "b" * 40


@pytest.mark.parametrize("ref", ["refs/heads/main", "refs/heads/master"])
def test_main_or_master_is_deployed(ref):
    update = refs.parse_updates(f"{OLD} {NEW} {ref}\n")
    assert update == refs.RefUpdate(ref=ref, old=OLD, new=NEW)
    assert update.short_sha == "aaaaaaa"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{OLD} {NEW} refs/heads/feature\n", "refs/heads/feature"),
        (f"{OLD} {NEW} refs/tags/v1\n", "refs/tags/v1"),
        (f"{NEW} {OLD} refs/heads/main\n", "deleting"),
        (f"{OLD} {NEW} refs/heads/main\n{OLD} {OTHER} refs/heads/master\n", "one branch"),
        ("", "nothing to deploy"),
        ("garbage\n", "malformed"),
        (f"{OLD} {NEW[:39]}Z refs/heads/main\n", "malformed"),
        (f"{OLD} {NEW} refs/heads/main extra\n", "malformed"),
    ],
)
def test_other_updates_are_refused_with_the_reason(text, reason):
    with pytest.raises(Refused, match=reason):
        refs.parse_updates(text)
