"""App names: the rule for new apps and generated names (docs/api.md §2.2).

A named security boundary: an app name becomes part of NATS subjects, KV keys, paths,
namespaces and hostnames. The character rule itself is `deis_shared.appnames`, checked here once
more after Deis's own messages are chosen, so the API cannot accept a name the rest of the
platform would refuse.
"""

import random
from collections.abc import Collection
from typing import Any

from deis_controller import errors
from deis_shared import appnames

BAD_NAME = (
    "App name must start with an alphabetic character, cannot end with a hyphen and can only"
    " contain a-z (lowercase), 0-9 and hyphens."
)


def _words(text: str) -> tuple[str, ...]:
    # A word list reads better as wrapped prose than as one quoted item per formatted line.
    return tuple(text.split())


ADJECTIVES = _words(
    """
    amber ancient autumn bold brave breezy bright brisk calm clever cobalt cosmic crimson crisp
    curious dapper daring dusty eager early electric emerald fancy fearless fluffy frosty
    gentle gilded golden grand happy hidden hollow humble icy jolly keen lively lucky mellow
    merry misty modest nimble noble olive patient plucky polished proud quiet rapid rustic
    scarlet shiny silent silver sleepy smooth snowy sunny swift tidy velvet vivid wandering
    windy witty young zesty
    """
)
"""Words for the first half of a generated name: lowercase a-z only."""

NOUNS = _words(
    """
    acorn anchor badger beacon bison blossom boulder cactus canyon cedar comet coral cricket
    dolphin dragon eggplant ember falcon feather fern firefly fjord gazelle glacier harbor
    hedgehog heron island jaguar kettle koala lagoon lantern lemur lighthouse lynx maple meadow
    meteor narwhal nebula otter owl panda pebble pepper pine quail rabbit raven reef river
    saffron sparrow squirrel summit teapot thistle tiger tulip valley walrus willow wombat yak
    zebra
    """
)
"""Words for the second half of a generated name: lowercase a-z only."""


def validate_new_app_id(value: Any, *, reserved: Collection[str]) -> str:
    """The name, if a new app may take it; whitespace around it is trimmed, as DRF does.

    Raises:
        FieldErrors: On `id`, with Deis's messages.
    """
    if not isinstance(value, str):
        raise errors.FieldErrors.one("id", "Not a valid string.")
    name = value.strip()
    if not name:
        raise errors.FieldErrors.one("id", "This field may not be blank.")
    if len(name) > appnames.MAX_APP_NAME_LENGTH:
        raise errors.FieldErrors.one(
            "id",
            f"Ensure this field has no more than {appnames.MAX_APP_NAME_LENGTH} characters.",
        )
    try:
        appnames.validate_app_name(name)
    except appnames.InvalidAppName as exc:
        raise errors.FieldErrors.one("id", BAD_NAME) from exc
    if name in reserved:
        raise errors.FieldErrors.one("id", f"{name} is a reserved name.")
    return name


def generate_app_id(*, rng: random.Random | None = None) -> str:
    """A random `<adjective>-<noun>` name such as `golden-eggplant`."""
    chooser = rng or random.Random()
    return f"{chooser.choice(ADJECTIVES)}-{chooser.choice(NOUNS)}"
