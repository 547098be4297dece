"""Each image's user is the one the Helm chart runs it as (runAsUser), so that the chart's pods
own their volumes (fsGroup) and the images' files."""

import os
import subprocess
from pathlib import Path

import helm_python as helm
import pytest
import yaml  # type: ignore[import-untyped]  # ships no type information

from deis_scheduler.settings import SchedulerSettings

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "deis"
TAG = os.environ.get("DEIS_IMAGE_TAG", "dev")
WORKLOADS = {
    "platform": "deis-controller",
    "router": "deis-router",
    "builder": "deis-builder",
    "postgres": "deis-postgres",
    "nats": "deis-nats",
    "s3": "deis-s3",
}

# The first test here sets up the `images` fixture: scripts/build-images, seconds when docker's
# layer cache holds every image, as long as a build when not (as in test_images.py).
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800 + 300)]


def chart_users() -> dict[str, int]:
    """The user the chart runs each image as; the slug runner's is the scheduler's setting."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render({}, name="deis", namespace="deis", is_install=True)
    by_workload = {}
    for path, text in rendered.items():
        if path.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if doc and doc["kind"] in ("Deployment", "StatefulSet"):
                    pod = doc["spec"]["template"]["spec"]
                    by_workload[doc["metadata"]["name"]] = pod["securityContext"]["runAsUser"]
    users = {image: by_workload[workload] for image, workload in WORKLOADS.items()}
    users["slugrunner"] = SchedulerSettings().kube_run_as_user
    return users


@pytest.mark.parametrize("name", [*WORKLOADS, "slugrunner"])
def test_the_chart_runs_each_image_as_its_own_user(images: None, name: str) -> None:
    uid = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", f"deis/{name}:{TAG}", "-u"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert int(uid) == chart_users()[name], f"the chart runs {name} as {chart_users()[name]}"
