"""The objects each system is given: one Pod template, three ways to ask for it.

The PodPattern is the source: a main container and two sidecars. Its Pod template is
rendered by the operator's own renderer, and the ReplicaSets and Deployments carry exactly
that spec, so every system creates the same Pods (native sidecars included) and only the
labels differ. The template must not carry the PodPattern label: the operator watches
every Pod with it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from podpatterns.api.validation import parse
from podpatterns.render import render_pod_template
from podpatterns.render.labels import PATTERN_LABEL

PODPATTERN = "podpattern"
REPLICASET = "replicaset"
DEPLOYMENT = "deployment"
SYSTEMS = (PODPATTERN, REPLICASET, DEPLOYMENT)
TITLES = {PODPATTERN: "PodPattern", REPLICASET: "ReplicaSet", DEPLOYMENT: "Deployment"}

APP_LABEL = "ppbench.podpatterns.dev/app"
# Pods land on kwok nodes only, where images are never pulled; the names are those of the
# dev cluster's own images so the same objects would also run on its real node.
MAIN_IMAGE = "localhost/podpatterns/nginx:1.22.1"
ROLLOUT_IMAGES = (MAIN_IMAGE, "localhost/podpatterns/nginx:1.22.1-rollout")
SIDECAR_IMAGE = "localhost/podpatterns/busybox:1.35.0"
REQUESTS = {"cpu": "10m", "memory": "16Mi"}

GROUP_VERSION = "podpatterns.dev/v1alpha1"


@dataclass(frozen=True)
class Rollout:
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"


def pattern(
    name: str,
    namespace: str,
    *,
    replicas: int = 1,
    image: str = MAIN_IMAGE,
    rollout: Rollout | None = None,
) -> dict[str, Any]:
    workload: dict[str, Any] = {"kind": "Pod", "replicas": replicas}
    if rollout is not None:
        workload["rollout"] = {
            "maxSurge": rollout.max_surge,
            "maxUnavailable": rollout.max_unavailable,
        }
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "PodPattern",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "workload": workload,
            "main": {
                "name": "app",
                "image": image,
                "ports": [{"name": "http", "containerPort": 8080}],
                "resources": {"requests": dict(REQUESTS)},
            },
            "sidecars": [
                {
                    "name": "log-shipper",
                    "image": SIDECAR_IMAGE,
                    "command": ["sh", "-c", "tail -F /var/log/app/access.log"],
                    "resources": {"requests": dict(REQUESTS)},
                },
                {
                    "name": "metrics",
                    "image": SIDECAR_IMAGE,
                    "command": ["sh", "-c", "while true; do sleep 60; done"],
                    "resources": {"requests": dict(REQUESTS)},
                },
            ],
        },
    }


def pod_spec(server_version: tuple[int, int], image: str = MAIN_IMAGE) -> dict[str, Any]:
    """The PodSpec the operator creates for `pattern(...)` on this server version."""
    rendered = render_pod_template(
        parse(pattern("template", "default", image=image)), server_version=server_version
    )
    return copy.deepcopy(rendered.spec)


def _template(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {APP_LABEL: name}}, "spec": copy.deepcopy(spec)}


def replicaset(name: str, namespace: str, replicas: int, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {APP_LABEL: name}},
            "template": _template(name, spec),
        },
    }


def deployment(
    name: str,
    namespace: str,
    replicas: int,
    spec: dict[str, Any],
    rollout: Rollout | None = None,
) -> dict[str, Any]:
    rollout = rollout or Rollout()
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {APP_LABEL: name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": rollout.max_surge,
                    "maxUnavailable": rollout.max_unavailable,
                },
            },
            "template": _template(name, spec),
        },
    }


def manifest(
    system: str,
    name: str,
    namespace: str,
    replicas: int,
    spec: dict[str, Any],
    *,
    rollout: Rollout | None = None,
) -> dict[str, Any]:
    if system == PODPATTERN:
        return pattern(name, namespace, replicas=replicas, rollout=rollout)
    if system == REPLICASET:
        return replicaset(name, namespace, replicas, spec)
    if system == DEPLOYMENT:
        return deployment(name, namespace, replicas, spec, rollout)
    raise ValueError(f"unknown system {system!r}")


def collection_path(system: str, namespace: str) -> str:
    if system == PODPATTERN:
        return f"/apis/podpatterns.dev/v1alpha1/namespaces/{namespace}/podpatterns"
    plural = {REPLICASET: "replicasets", DEPLOYMENT: "deployments"}[system]
    return f"/apis/apps/v1/namespaces/{namespace}/{plural}"


def owner_label(system: str) -> str:
    """The label every Pod of that system carries, whatever object made it."""
    return PATTERN_LABEL if system == PODPATTERN else APP_LABEL


def image_patch(system: str, image: str, spec: dict[str, Any]) -> tuple[Any, str]:
    """A patch (body, content type) that changes the main container's image."""
    if system == PODPATTERN:
        return {"spec": {"main": {"image": image}}}, "application/merge-patch+json"
    names = [c["name"] for c in spec["containers"]]
    index = names.index("app")
    return (
        [{"op": "replace", "path": f"/spec/template/spec/containers/{index}/image",
          "value": image}],
        "application/json-patch+json",
    )
