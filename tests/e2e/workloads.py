"""Helpers for the end-to-end tests of workload kinds: manifests, the objects a PodPattern
owns, and bounded waits on its status."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from tests.e2e.helpers import events_for, get_pattern, pods_of
from tests.support.kube import Cluster
from tests.support.realnode import REAL_NODE_LABEL
from tests.support.wait import wait_until

KINDS = ("deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")
BUSYBOX = "localhost/podpatterns/busybox:1.35.0"
RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
FOREVER = ["sh", "-c", "while true; do sleep 60; done"]


def workload_pattern(
    name: str, namespace: str, workload: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    """A PodPattern with a main container and one sidecar, run as `workload`."""
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "workload": copy.deepcopy(workload),
            "main": {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]},
            "sidecars": [{"name": "helper", "image": "busybox:1.36", "command": FOREVER}],
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


def owned(cluster: Cluster, namespace: str, name: str) -> dict[str, list[str]]:
    """kind → names of the objects labelled with the pattern, those being deleted left out
    (ReplicaSets too: they go with their Deployment)."""
    result: dict[str, list[str]] = {}
    for kind in (*KINDS, "replicasets", "services"):
        items = cluster.get(kind, "-n", namespace, "-l", f"podpatterns.dev/pattern={name}")["items"]
        names = sorted(
            item["metadata"]["name"]
            for item in items
            if not item["metadata"].get("deletionTimestamp")
        )
        if names:
            result[kind] = names
    return result


def get(cluster: Cluster, kind: str, namespace: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = cluster.get(kind, name, "-n", namespace, "--show-managed-fields")
    return body


def wait_status(
    cluster: Cluster,
    namespace: str,
    name: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    timeout: float = 90,
) -> dict[str, Any]:
    """Until the status, computed for the current generation, satisfies `check`."""

    def probe() -> dict[str, Any] | None:
        body = get_pattern(cluster, namespace, name)
        status = body.get("status") or {}
        if status.get("observedGeneration") == body["metadata"]["generation"] and check(status):
            return body
        return None

    try:
        return wait_until(probe, timeout=timeout, what=f"PodPattern {namespace}/{name}: {what}")
    except AssertionError as failure:
        body = get_pattern(cluster, namespace, name)
        pods = [
            (p["metadata"]["name"], p.get("status", {}).get("phase"))
            for p in pods_of(cluster, namespace, name)
        ]
        state = json.dumps(
            {
                "status": body.get("status"),
                "objects": owned(cluster, namespace, name),
                "pods": pods,
                "events": [
                    (e["reason"], e["message"]) for e in events_for(cluster, namespace, name)
                ],
            },
            indent=1,
        )
        raise AssertionError(f"{failure}\n{state}") from None


def wait_phase(
    cluster: Cluster,
    namespace: str,
    name: str,
    phase: str,
    kind: str | None = None,
    timeout: float = 90,
) -> dict[str, Any]:
    def check(status: dict[str, Any]) -> bool:
        workload = status.get("workload") or {}
        return status.get("phase") == phase and (kind is None or workload.get("kind") == kind)

    return wait_status(
        cluster, namespace, name, check, what=f"phase {phase} (kind {kind})", timeout=timeout
    )


def reasons(cluster: Cluster, namespace: str, name: str) -> list[str]:
    return [str(e["reason"]) for e in events_for(cluster, namespace, name)]


def messages(cluster: Cluster, namespace: str, name: str, reason: str) -> list[str]:
    return [
        str(e["message"]) for e in events_for(cluster, namespace, name) if e["reason"] == reason
    ]


def owner_of(obj: dict[str, Any]) -> dict[str, Any]:
    (ref,) = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
    return dict(ref)


def schedulable_nodes(cluster: Cluster, tolerated: tuple[str, ...] = ()) -> set[str]:
    """Ready nodes a Pod without a nodeSelector lands on: not cordoned, and without a
    NoSchedule or NoExecute taint other than those keyed in `tolerated`."""
    found = set()
    for node in cluster.get("nodes")["items"]:
        spec, status = node.get("spec") or {}, node.get("status") or {}
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
        )
        blocking = [
            taint
            for taint in spec.get("taints") or []
            if taint.get("effect") in ("NoSchedule", "NoExecute")
            and taint.get("key") not in tolerated
        ]
        if ready and not spec.get("unschedulable") and not blocking:
            found.add(node["metadata"]["name"])
    return found


def on_real_node() -> dict[str, Any]:
    """spec.pod settings that place the Pods on the real node, restricted."""
    return {
        "nodeSelector": {REAL_NODE_LABEL: "true"},
        "tolerations": [{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    }


def real_container(name: str, command: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "image": BUSYBOX,
        "imagePullPolicy": "Never",
        "command": command,
        "securityContext": dict(RESTRICTED),
    }
