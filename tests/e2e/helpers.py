"""Helpers for the end-to-end tests: manifests, reads, bounded waits, a Pod watch."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from tests.support.kube import Cluster
from tests.support.wait import wait_until


def pattern(
    name: str,
    namespace: str,
    *,
    replicas: int = 2,
    image: str = "nginx:1.27",
    max_surge: int | str = 1,
    max_unavailable: int | str = 0,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "workload": {
                "kind": "Pod",
                "replicas": replicas,
                "rollout": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
            },
            "main": {"name": "app", "image": image, "ports": [{"containerPort": 8080}]},
            "sidecars": [
                {
                    "name": "helper",
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", "while true; do sleep 60; done"],
                }
            ],
        },
    }
    body["spec"].update(spec)
    return body


def pods_of(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get(
        "pods", "-n", namespace, "-l", f"podpatterns.dev/pattern={name}"
    )["items"]
    return items


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        pod
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
        and pod.get("status", {}).get("phase") not in ("Failed", "Succeeded")
    ]


def is_ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def get_pattern(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = cluster.get("podpattern", name, "-n", namespace)
    return body


def condition(body: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (body.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return None


def wait_ready(
    cluster: Cluster, namespace: str, name: str, replicas: int, timeout: float = 90
) -> dict[str, Any]:
    """Until the PodPattern reports Ready for its current generation with `replicas` Pods."""

    def probe() -> dict[str, Any] | None:
        body = get_pattern(cluster, namespace, name)
        status = body.get("status") or {}
        pods = live(pods_of(cluster, namespace, name))
        if (
            status.get("phase") == "Ready"
            and status.get("observedGeneration") == body["metadata"]["generation"]
            and status.get("readyReplicas") == replicas
            and len(pods) == replicas
            and all(is_ready(pod) for pod in pods)
        ):
            return body
        return None

    def describe() -> str:
        body = get_pattern(cluster, namespace, name)
        names = [
            (p["metadata"]["name"], p.get("status", {}).get("phase"), is_ready(p))
            for p in pods_of(cluster, namespace, name)
        ]
        return json.dumps({"status": body.get("status"), "pods": names}, indent=1)

    try:
        return wait_until(probe, timeout=timeout, what=f"PodPattern {namespace}/{name} Ready")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{describe()}") from None


def events_for(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get(
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.kind=PodPattern,involvedObject.name={name}",
    )["items"]
    return items


def eventually(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """wait_until for assertions: retries while `check` raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError as failure:
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s: {what}: {failure}") from None
        time.sleep(0.25)


class PodWatch:
    """Follows the Pods of one PodPattern through a real watch (kubectl --watch).

    Polling would miss short-lived states; a watch sees every change, so the rollout
    bounds are checked after each single event.
    """

    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[float, int, int, frozenset[str]]] = []
        """(time, live Pods, ready Pods, live names) after every event."""
        self.seen: set[str] = set()
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [
                str(cluster.kubectl_path),
                "get",
                "pods",
                "-n",
                namespace,
                "-l",
                f"podpatterns.dev/pattern={name}",
                "--watch",
                "--output-watch-events",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=cluster.env,
            text=True,
        )
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        assert self._process.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for line in self._process.stdout:
            buffer += line
            while True:
                stripped = buffer.lstrip()
                if not stripped:
                    buffer = ""
                    break
                try:
                    event, end = decoder.raw_decode(stripped)
                except ValueError:
                    break
                buffer = stripped[end:]
                self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        pod = event.get("object") or {}
        name = pod.get("metadata", {}).get("name")
        if not name:
            return
        with self._lock:
            if event.get("type") == "DELETED":
                self.pods.pop(name, None)
            else:
                self.pods[name] = pod
                self.seen.add(name)
            current = live(list(self.pods.values()))
            self.history.append(
                (
                    time.monotonic(),
                    len(current),
                    sum(1 for p in current if is_ready(p)),
                    frozenset(p["metadata"]["name"] for p in current),
                )
            )

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.pods.values())

    def since(self, moment: float) -> list[tuple[float, int, int, frozenset[str]]]:
        with self._lock:
            return [entry for entry in self.history if entry[0] >= moment]

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


_DISCOVERY = re.compile(r"^(/api(/[^/?]+)?|/apis(/[^/?]+){0,2})/?(\?.*)?$")


def polls(requests: Iterable[Any]) -> list[str]:
    """Requests other than watches, leaving out API discovery.

    Discovery (`GET /apis/GROUP/VERSION`) is Kopf's answer to a CRD being added or removed
    anywhere in the cluster, not a poll of ours; the watches are what must carry the rest.
    """
    return [str(r) for r in requests if "watch=true" not in r.path and not _DISCOVERY.match(r.path)]
