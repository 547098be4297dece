"""The Kubernetes objects one app's desired state stands for: plain dicts, made here only.

Per app, in a namespace of its own named after it (labels `heritage: deis`, `app`):

- a Secret per release, `<app>-v<N>-env`, holding the app's config (the environment users set);
- a Deployment per process type that runs, `<app>-<type>`: replicas from the formation (left to
  the HorizontalPodAutoscaler when the type autoscales), `RollingUpdate` with `maxUnavailable:
  0` so a release that never becomes ready never takes the running one down, the pod template
  labelled app/type/version, the environment Deis sets (`PORT`, `DEIS_APP`,
  `WORKFLOW_RELEASE*`, `SOURCE_VERSION`), limits as requests/limits, healthchecks as probes,
  tags as a nodeSelector, registry credentials as an imagePullSecret;
- a Service `<app>-<type>` for the routable type (`web`, or `cmd` for images), which the router
  reaches by its cluster DNS name;
- an `autoscaling/v2` HorizontalPodAutoscaler `<app>-<type>` per autoscaled type;
- a NetworkPolicy that lets in only the router mesh and keeps the app's pods away from the
  platform's namespace (but for its object store, where slugs are fetched from);
- a Secret `slug-store` with the object store's settings, for the slug runner.

App pods run as a non-root user, with no service-account token, no privilege escalation and no
capabilities; a slug runner's root filesystem is read-only (the slug is unpacked into an
`emptyDir` at `/app`, and `/tmp` is another).

The slug runner's contract (the image is `kube_runner_image`): `args: ["start", <type>]`; the
environment names the slug (`DEIS_SLUG_KEY`) and the command to run (`DEIS_COMMAND`, the
process type's Procfile line), and the `slug-store` Secret gives `DEIS_OBJECT_STORE` and the
`DEIS_S3_*` settings to fetch it with; it unpacks the slug into `/app`, applies its
`.deis/slug.json` environment, and execs the command with `/bin/sh -c`.
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from deis_scheduler.settings import SchedulerSettings
from deis_shared import limits, processtypes
from deis_shared.kv import desired as desired_kv

Manifest = dict[str, Any]

HERITAGE: Final = {"heritage": "deis"}
"""The label every object of ours carries."""

SPEC_HASH: Final = "deis.io/spec-hash"
"""Annotation: a hash of what we sent, so an unchanged object is not sent again."""

RELEASE: Final = "deis.io/release"
"""Annotation of a Deployment: the release version its template runs."""

RESTARTED_AT: Final = "deis.io/restartedAt"
"""Pod template annotation changed to restart every pod of a type (as `kubectl rollout
restart` does)."""

STORE_SECRET: Final = "slug-store"
"""The Secret, in each app namespace, that tells the slug runner how to fetch slugs."""

REGISTRY_SECRET: Final = "registry"
"""The imagePullSecret of an app with private registry credentials."""

NETWORK_POLICY: Final = "isolation"
"""The NetworkPolicy of each app namespace."""

APP_DIR: Final = "/app"
"""Where the slug runner unpacks the slug."""

DEFAULT_PORT: Final = 5000
"""`PORT` when the desired state names none (as for slug builds in Deis)."""


def labels(app: str, **more: str) -> dict[str, str]:
    """The labels of the app's objects: heritage and app, plus `more`."""
    return {**HERITAGE, "app": app, **more}


def deployment_name(app: str, kind: str) -> str:
    """The Deployment (and Service, and HPA) of process type `kind`."""
    return f"{app}-{kind}"


def env_secret_name(app: str, version: int) -> str:
    """The Secret holding release `version`'s config."""
    return f"{app}-v{version}-env"


def service_host(app: str, kind: str, *, cluster_domain: str) -> str:
    """The cluster DNS name of the app's Service for `kind`."""
    return f"{deployment_name(app, kind)}.{app}.svc.{cluster_domain}"


def hashed(manifest: Manifest) -> Manifest:
    """`manifest` with the hash of its content in the `SPEC_HASH` annotation."""
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:20]
    annotations = manifest["metadata"].setdefault("annotations", {})
    annotations[SPEC_HASH] = digest
    return manifest


def namespace(app: str) -> Manifest:
    """The app's namespace."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": app, "labels": labels(app)},
    }


def env_secret(desired: desired_kv.DesiredState) -> Manifest:
    """The release's config as a Secret (never a ConfigMap: config holds credentials)."""
    app, version = desired.app, desired.release.version
    return hashed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": env_secret_name(app, version),
                "namespace": app,
                "labels": labels(app, version=f"v{version}"),
            },
            "data": {key: _b64(value) for key, value in sorted(desired.config.items())},
        }
    )


def store_secret(app: str, settings: Mapping[str, str]) -> Manifest:
    """The object store's settings for the slug runner (`DEIS_OBJECT_STORE`, `DEIS_S3_*`)."""
    return hashed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": STORE_SECRET, "namespace": app, "labels": labels(app)},
            "data": {key: _b64(value) for key, value in sorted(settings.items())},
        }
    )


def registry_secret(desired: desired_kv.DesiredState) -> Manifest | None:
    """The imagePullSecret for the app's private registry, if it has credentials."""
    registry = desired.registry
    if not registry.get("username") or not registry.get("hostname"):
        return None
    auth = _b64(f"{registry['username']}:{registry.get('password', '')}")
    config = {"auths": {registry["hostname"]: {"auth": auth}}}
    return hashed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {
                "name": REGISTRY_SECRET,
                "namespace": desired.app,
                "labels": labels(desired.app),
            },
            "data": {".dockerconfigjson": _b64(json.dumps(config))},
        }
    )


def process_types(desired: desired_kv.DesiredState) -> dict[str, str | None]:
    """The process types the release can run: type -> command (None: the image's own)."""
    if desired.build is not None:
        return dict(desired.build.procfile)
    if desired.image is not None:
        return dict(desired.image.procfile) or {"cmd": None}
    return {}


def deployment(
    desired: desired_kv.DesiredState,
    *,
    kind: str,
    settings: SchedulerSettings,
    replicas: int | None,
    restarted_at: str | None = None,
) -> Manifest:
    """The Deployment of process type `kind` running `desired`'s release.

    Args:
        desired: the app's desired state.
        kind: the process type.
        settings: the scheduler's settings (`kube_*`).
        replicas: how many pods; `None` leaves the field out (an autoscaler decides).
        restarted_at: the value of the restart annotation to keep (a restart changes it).

    Raises:
        InvalidLimit: a limit of the desired state cannot be parsed (the wire model checked it).
    """
    app, version = desired.app, desired.release.version
    pod_labels = labels(app, type=kind, version=f"v{version}")
    template_annotations = {RESTARTED_AT: restarted_at} if restarted_at else {}
    spec: Manifest = {
        "selector": {"matchLabels": {"app": app, "type": kind}},
        "revisionHistoryLimit": settings.kube_revision_history,
        "progressDeadlineSeconds": settings.kube_progress_deadline,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
        },
        "template": {
            "metadata": {"labels": pod_labels, **_annotations(template_annotations)},
            "spec": pod_spec(desired, kind=kind, settings=settings, restart_policy="Always"),
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return hashed(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": deployment_name(app, kind),
                "namespace": app,
                "labels": labels(app, type=kind),
                "annotations": {RELEASE: str(version)},
            },
            "spec": spec,
        }
    )


def pod_spec(
    desired: desired_kv.DesiredState,
    *,
    kind: str,
    settings: SchedulerSettings,
    restart_policy: str,
    command: str | None = None,
) -> Manifest:
    """The pod of process type `kind` (or of a one-off `command`, for `deis run`)."""
    app, version = desired.app, desired.release.version
    types = process_types(desired)
    run = command if command is not None else types.get(kind)
    port = desired.port or DEFAULT_PORT
    env = [
        {"name": "PORT", "value": str(port)},
        {"name": "DEIS_APP", "value": app},
        {"name": "WORKFLOW_RELEASE", "value": f"v{version}"},
        {"name": "WORKFLOW_RELEASE_SUMMARY", "value": desired.release.summary},
        {"name": "WORKFLOW_RELEASE_CREATED", "value": desired.release.created.isoformat()},
    ]
    container: Manifest = {"name": kind}
    volumes: list[Manifest] = []
    security: Manifest = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
    }
    env_from = [{"secretRef": {"name": env_secret_name(app, version)}}]
    if desired.build is not None:
        env += [
            {"name": "SOURCE_VERSION", "value": desired.build.sha},
            {"name": "DEIS_SLUG_KEY", "value": desired.build.slug_key},
            {"name": "DEIS_COMMAND", "value": run or ""},
        ]
        env_from.insert(0, {"secretRef": {"name": STORE_SECRET}})
        container |= {"image": settings.kube_runner_image, "args": ["start", kind]}
        security |= {
            "readOnlyRootFilesystem": True,
            "runAsUser": settings.kube_run_as_user,
            "runAsGroup": settings.kube_run_as_user,
        }
        volumes = [{"name": "app", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
        container["volumeMounts"] = [
            {"name": "app", "mountPath": APP_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
    elif desired.image is not None:
        if desired.image.sha:
            env.append({"name": "SOURCE_VERSION", "value": desired.image.sha})
        container["image"] = desired.image.image
        if run:
            container |= {"command": ["/bin/sh", "-c", run]}
    container |= {
        "imagePullPolicy": settings.kube_image_pull_policy,
        "env": env,
        "envFrom": env_from,
        "securityContext": security,
    }
    if kind in processtypes.ROUTABLE and command is None:
        container["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    resources = _resources(desired, kind)
    if resources:
        container["resources"] = resources
    if command is None:
        container |= _probes(desired, kind)
    spec: Manifest = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": restart_policy,
        "terminationGracePeriodSeconds": settings.kube_termination_grace,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    selector = {**settings.kube_app_node_selector, **desired.tags}
    if selector:
        spec["nodeSelector"] = selector
    if settings.kube_app_tolerations:
        spec["tolerations"] = [dict(toleration) for toleration in settings.kube_app_tolerations]
    if registry_secret(desired) is not None:
        spec["imagePullSecrets"] = [{"name": REGISTRY_SECRET}]
    if volumes:
        spec["volumes"] = volumes
    return spec


def service(
    desired: desired_kv.DesiredState, *, kind: str, settings: SchedulerSettings
) -> Manifest:
    """The Service the router reaches the routable type `kind` through."""
    app = desired.app
    return hashed(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": deployment_name(app, kind),
                "namespace": app,
                "labels": labels(app, type=kind),
            },
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": app, "type": kind},
                "ports": [
                    {
                        "name": "http",
                        "port": settings.kube_service_port,
                        "targetPort": desired.port or DEFAULT_PORT,
                        "protocol": "TCP",
                    }
                ],
            },
        }
    )


def autoscaler(desired: desired_kv.DesiredState, *, kind: str) -> Manifest:
    """The HorizontalPodAutoscaler of an autoscaled type `kind`."""
    app, scale = desired.app, desired.autoscale[kind]
    return hashed(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": deployment_name(app, kind),
                "namespace": app,
                "labels": labels(app, type=kind),
            },
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": deployment_name(app, kind),
                },
                "minReplicas": max(1, scale.min),
                "maxReplicas": max(scale.max, scale.min, 1),
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": scale.cpu_percent,
                            },
                        },
                    }
                ],
            },
        }
    )


def network_policy(app: str, *, settings: SchedulerSettings) -> Manifest:
    """Let in only the router mesh; let out anywhere but the platform (its object store aside)."""
    platform = {"kubernetes.io/metadata.name": settings.kube_platform_namespace}
    others = {
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": [settings.kube_platform_namespace],
            }
        ]
    }
    return hashed(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": NETWORK_POLICY, "namespace": app, "labels": labels(app)},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {"matchLabels": platform},
                                "podSelector": {"matchLabels": settings.kube_router_labels},
                            }
                        ]
                    }
                ],
                "egress": [
                    {"to": [{"namespaceSelector": others}]},
                    {
                        "to": [
                            {
                                "namespaceSelector": {"matchLabels": platform},
                                "podSelector": {"matchLabels": settings.kube_object_store_labels},
                            }
                        ]
                    },
                    {
                        "to": [
                            {
                                "ipBlock": {
                                    "cidr": "0.0.0.0/0",
                                    "except": list(settings.kube_private_cidrs),
                                }
                            }
                        ]
                    },
                ],
            },
        }
    )


def run_pod(
    desired: desired_kv.DesiredState,
    *,
    name: str,
    command: str,
    timeout: float,
    settings: SchedulerSettings,
) -> Manifest:
    """The pod of a `deis run`: the release's container, `command`, never restarted."""
    app = desired.app
    spec = pod_spec(desired, kind="run", settings=settings, restart_policy="Never", command=command)
    spec["activeDeadlineSeconds"] = max(1, int(timeout) + 5)
    if desired.image is not None:
        spec["containers"][0]["command"] = ["/bin/sh", "-c", command]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": app,
            "labels": labels(app, type="run", version=f"v{desired.release.version}"),
        },
        "spec": spec,
    }


def _resources(desired: desired_kv.DesiredState, kind: str) -> Manifest:
    resources: dict[str, dict[str, str]] = {}
    memory = desired.limits.memory.get(kind)
    if memory is not None:
        parsed = limits.parse_memory(memory)
        if parsed.request is not None:
            resources.setdefault("requests", {})["memory"] = str(parsed.request)
        if parsed.limit is not None:
            resources.setdefault("limits", {})["memory"] = str(parsed.limit)
    cpu = desired.limits.cpu.get(kind)
    if cpu is not None:
        parsed_cpu = limits.parse_cpu(cpu)
        if parsed_cpu.request is not None:
            resources.setdefault("requests", {})["cpu"] = f"{parsed_cpu.request}m"
        if parsed_cpu.limit is not None:
            resources.setdefault("limits", {})["cpu"] = f"{parsed_cpu.limit}m"
    return resources


def _probes(desired: desired_kv.DesiredState, kind: str) -> Manifest:
    check = desired.healthchecks.get(kind)
    if check is None:
        return {}
    probes: Manifest = {}
    pairs = (("livenessProbe", check.liveness_probe), ("readinessProbe", check.readiness_probe))
    for field, probe in pairs:
        if probe is not None:
            probes[field] = probe.model_dump(by_alias=True, exclude_none=True, mode="json")
    return probes


def _annotations(values: Mapping[str, str]) -> Manifest:
    return {"annotations": dict(values)} if values else {}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
