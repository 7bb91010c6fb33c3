"""Server-side dry runs over one kept-alive HTTPS connection pool.

`kubectl create --dry-run=server` costs a process start and a discovery round trip per
object; the differential test sends thousands of objects, so it talks to the API server
directly, with the credentials of the cluster's kubeconfig, the way kubectl would send
them: `dryRun=All` and `fieldValidation=Strict` (kubectl's default), the object routed by
its own apiVersion and kind.
"""

from __future__ import annotations

import base64
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml

# kind -> (API prefix, plural, namespaced): what the objects the tests send can be.
RESOURCES: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("podpatterns.dev/v1alpha1", "PodPattern"): (
        "/apis/podpatterns.dev/v1alpha1",
        "podpatterns",
        True,
    ),
    ("podpatterns.dev/v1alpha1", "SidecarProfile"): (
        "/apis/podpatterns.dev/v1alpha1",
        "sidecarprofiles",
        False,
    ),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("v1", "Service"): ("/api/v1", "services", True),
    ("v1", "Pod"): ("/api/v1", "pods", True),
    ("v1", "PodTemplate"): ("/api/v1", "podtemplates", True),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("apps/v1", "Deployment"): ("/apis/apps/v1", "deployments", True),
    ("apps/v1", "StatefulSet"): ("/apis/apps/v1", "statefulsets", True),
    ("apps/v1", "DaemonSet"): ("/apis/apps/v1", "daemonsets", True),
    ("batch/v1", "Job"): ("/apis/batch/v1", "jobs", True),
    ("batch/v1", "CronJob"): ("/apis/batch/v1", "cronjobs", True),
}


@dataclass(frozen=True)
class Answer:
    """What the API server (or kubectl, before sending) said about one object."""

    what: str
    accepted: bool
    status: int
    message: str

    def __str__(self) -> str:
        verdict = "accepted" if self.accepted else f"refused ({self.status})"
        return f"{self.what}: {verdict}" + ("" if self.accepted else f": {self.message}")


class ApiServer:
    """The API server of a kubeconfig, for dry runs and the few real writes a test needs."""

    def __init__(self, kubeconfig: Path, namespace: str = "default") -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        context = _named(config, "contexts", config.get("current-context"))["context"]
        cluster = _named(config, "clusters", context["cluster"])["cluster"]
        user = _named(config, "users", context["user"])["user"]
        self._files = tempfile.TemporaryDirectory(prefix="pp-dryrun-")
        folder = Path(self._files.name)
        self.server = cluster["server"].rstrip("/")
        self.namespace = namespace
        self.pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=8,
            cert_reqs="CERT_REQUIRED",
            ca_certs=_file(cluster, "certificate-authority", folder / "ca.crt"),
            cert_file=_file(user, "client-certificate", folder / "client.crt"),
            key_file=_file(user, "client-key", folder / "client.key"),
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=False,
        )
        self.workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dryrun")

    def close(self) -> None:
        self.workers.shutdown()
        self.pool.clear()
        self._files.cleanup()

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        response = self.pool.request(
            method,
            self.server + path,
            body=data,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            return response.status, json.loads(response.data)
        except ValueError:
            return response.status, response.data.decode(errors="replace")

    def create(self, manifest: dict[str, Any], *, dry_run: bool = True) -> Answer:
        """Create `manifest` as `kubectl create [--dry-run=server] -f` would send it."""
        what = _describe(manifest)
        route = _route(manifest)
        if route is None:
            # kubectl maps apiVersion and kind to a resource before sending anything.
            return Answer(
                what,
                False,
                0,
                "kubectl: apiVersion and kind do not name a known "
                f"resource: {manifest.get('apiVersion')!r} {manifest.get('kind')!r}"
                if isinstance(manifest, dict)
                else "kubectl: not an object",
            )
        prefix, plural, namespaced = route
        body = manifest
        if namespaced:
            body = dict(manifest)
            metadata = body.get("metadata")
            if isinstance(metadata, dict) and "namespace" not in metadata:
                body["metadata"] = {**metadata, "namespace": self.namespace}
        where = f"/namespaces/{self.namespace}" if namespaced else ""
        query = "?fieldValidation=Strict" + ("&dryRun=All" if dry_run else "")
        status, answer = self.request("POST", f"{prefix}{where}/{plural}{query}", body)
        if status in (200, 201):
            return Answer(what, True, status, "")
        return Answer(what, False, status, _message(answer))

    def dry_run_all(self, manifests: list[dict[str, Any]]) -> list[Answer]:
        """Dry-run every manifest, a few at a time (they do not depend on each other:
        nothing is created)."""
        return list(self.workers.map(self.create, manifests))


def unwrap(manifest: Any) -> list[Any]:
    """The objects kubectl sends for one document: the items of a `kind: List`."""
    if (
        isinstance(manifest, dict)
        and manifest.get("kind") == "List"
        and manifest.get("apiVersion") == "v1"
        and isinstance(manifest.get("items"), list)
    ):
        return list(manifest["items"])
    return [manifest]


def _route(manifest: Any) -> tuple[str, str, bool] | None:
    if not isinstance(manifest, dict):
        return None
    return RESOURCES.get((manifest.get("apiVersion"), manifest.get("kind")))  # type: ignore[arg-type]


def _describe(manifest: Any) -> str:
    if not isinstance(manifest, dict):
        return "document"
    metadata = manifest.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{manifest.get('kind')}/{name!r}"


def _message(answer: Any) -> str:
    if isinstance(answer, dict):
        return str(answer.get("message") or answer)
    return str(answer)[:2000]


def _named(config: dict[str, Any], section: str, name: Any) -> dict[str, Any]:
    entries = config.get(section) or []
    for entry in entries:
        if entry.get("name") == name:
            return dict(entry)
    return dict(entries[0])


def _file(entry: dict[str, Any], key: str, target: Path) -> str:
    """A kubeconfig credential as a file: given as a path, or written from its -data."""
    if entry.get(key):
        return str(entry[key])
    target.write_bytes(base64.b64decode(entry[f"{key}-data"]))
    target.chmod(0o600)
    return str(target)
