"""The images, built once by scripts/build-images for the tests of this directory."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 1800.0


def docker_available() -> str | None:
    """None when a dockerd answers, else why not."""
    if shutil.which("docker") is None:
        return "no docker client (Debian: apt-get install docker.io)"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "dockerd does not answer"
    if info.returncode != 0:
        return "no dockerd answers (start it: see deploy/images/README.md)"
    return None


@pytest.fixture(scope="module")
def images() -> None:
    """Every image, built (or found up to date) by scripts/build-images.

    With DEIS_IMAGES_BUILT=1 the build is left out and the images are taken as they are (after
    `scripts/build-images --only <name>`, say, to test one image without building the others).
    """
    missing = docker_available()
    if missing is not None:
        pytest.skip(missing)
    if os.environ.get("DEIS_IMAGES_BUILT") == "1":
        return
    build = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-images")],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
