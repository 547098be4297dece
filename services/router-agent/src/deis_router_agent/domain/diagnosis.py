"""Read nginx's complaint and name the app it is about.

nginx names the file it stopped in (`... in /<releases>/<n>/apps/<app>.conf:12`) or the
certificate it could not load (`/<tls>/<app>/<name>-<digest>.crt`); both paths carry the app
name because the renderer puts every app in files of its own. Anything else (the main file,
an unknown path) cannot be pinned on one app.
"""

import re
from pathlib import Path

_APP = r"([a-z](?:[a-z0-9-]*[a-z0-9])?)"


def blame(message: str, *, releases: Path, tls: Path) -> str | None:
    """The app whose file or certificate `message` (nginx's stderr) names first, if any."""
    patterns = (
        re.escape(str(releases)) + rf"/[0-9]+/apps/{_APP}\.conf\b",
        re.escape(str(tls)) + rf"/{_APP}/",
    )
    found: list[tuple[int, str]] = []
    for pattern in patterns:
        match = re.search(pattern, message)
        if match is not None:
            found.append((match.start(), match.group(1)))
    return min(found)[1] if found else None
