"""The scheduler on the `kubernetes` backend, against the Kubernetes API emulator (the one test
double allowed: no API server can run here), with a real nats-server and moto's S3."""

from pathlib import Path
from typing import Any

import pytest

from deis_testing import S3Server, unique_name
from deis_testing.kube import KubeEmulator


@pytest.fixture
def scheduler_overrides(
    kube_api: KubeEmulator, s3_server: S3Server, tmp_path: Path
) -> dict[str, Any]:
    """Settings that put the scheduler on the emulated cluster."""
    return {
        "backend": "kubernetes",
        "kube_config": kube_api.write_kubeconfig(tmp_path / "kubeconfig"),
        "kube_watch_seconds": 30,
        "kube_progress_deadline": 600,  # the emulator scales it down (6 s)
        "object_store": "s3",
        "s3_endpoint_url": s3_server.endpoint_url,
        "s3_region": s3_server.region,
        "s3_access_key_id": s3_server.access_key,
        "s3_secret_access_key": s3_server.secret_key,
        "s3_bucket": unique_name("bucket-"),
    }
