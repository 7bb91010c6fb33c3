"""A thin, raw-JSON layer over the `kubernetes` client.

The generated API classes turn every response into model objects, which costs more than
the request itself for a Pod. This layer keeps the client's configuration, authentication
and connection pool, and exchanges plain dicts: a request is serialized by the client's
own `param_serialize`, sent with `call_api`, and the body is parsed with `json.loads`.

Every call blocks; the async controller runs them in an executor, never on the event loop.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import kubernetes.client
import kubernetes.config
from kubernetes.client import ApiClient

FIELD_MANAGER = "podpatterns"
GROUP = "podpatterns.dev"
VERSION = "v1alpha1"
PLURAL = "podpatterns"

NAMESPACE_TERMINATING = "NamespaceTerminating"
"""The API server's cause for a create refused in a namespace being deleted."""

MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class ApiError(Exception):
    """A non-2xx answer from the API server, with its Status body when there is one."""

    def __init__(self, status: int, reason: str, body: Mapping[str, Any] | None = None):
        self.status = status
        self.reason = reason
        self.body = dict(body or {})
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.body.get("message")
        return str(text) if text else f"{self.status} {self.reason}".strip()

    @property
    def status_reason(self) -> str:
        """The machine-readable reason, e.g. AlreadyExists, Invalid, Forbidden."""
        return str(self.body.get("reason") or "")

    @property
    def causes(self) -> list[tuple[str, str]]:
        """(field, message) pairs of a 422 Invalid answer."""
        details = self.body.get("details") or {}
        return [
            (str(cause.get("field") or ""), str(cause.get("message") or ""))
            for cause in details.get("causes") or ()
        ]

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.status_reason == "AlreadyExists"

    @property
    def invalid(self) -> bool:
        return self.status == 422

    @property
    def namespace_terminating(self) -> bool:
        """A create refused because its namespace is being deleted (and all in it)."""
        details = self.body.get("details") or {}
        causes = {str(cause.get("reason")) for cause in details.get("causes") or ()}
        return self.status == 403 and (
            NAMESPACE_TERMINATING in causes or "being terminated" in self.message
        )

    @property
    def retryable(self) -> bool:
        # 0 is the client's code for a connection failure; 429 and 5xx are the server's
        # way of saying "later".
        return self.status in (0, 429) or self.status >= 500


class RateLimiter:
    """A token bucket shared by all threads, like client-go's QPS and burst.

    `qps <= 0` turns limiting off.
    """

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = max(burst, 1)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.qps <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.qps)
            self._stamp = now
            self._tokens -= 1
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class KubeApi:
    def __init__(
        self,
        client: ApiClient,
        *,
        timeout: float = 30.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.limiter = limiter or RateLimiter(0, 1)

    @classmethod
    def connect(
        cls,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        pool_size: int = 16,
        timeout: float = 30.0,
        qps: float = 0,
        burst: int = 1,
    ) -> KubeApi:
        config = load_configuration(kubeconfig=kubeconfig, context=context)
        # One connection per worker thread, so parallel creates do not queue for sockets.
        config.connection_pool_maxsize = max(pool_size, 1)
        return cls(ApiClient(config), timeout=timeout, limiter=RateLimiter(qps, burst))

    @property
    def configuration(self) -> kubernetes.client.Configuration:
        config: kubernetes.client.Configuration = self.client.configuration
        return config

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: object = None,
        content_type: str = "application/json",
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        serialized = self.client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query) or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        self.limiter.acquire()
        try:
            response = self.client.call_api(*serialized, _request_timeout=self.timeout)
            raw = response.read()  # type: ignore[no-untyped-call]
        except kubernetes.client.ApiException as failure:
            # Connection-level failures surface as ApiException(status=0).
            raise ApiError(failure.status or 0, str(failure.reason or failure)) from failure
        except Exception as failure:  # urllib3 timeouts and connection errors
            raise ApiError(0, f"{type(failure).__name__}: {failure}") from failure
        decoded: Any = None
        if raw:
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = None
        if not 200 <= response.status <= 299:
            raise ApiError(
                response.status,
                str(response.reason or ""),
                decoded if isinstance(decoded, Mapping) else None,
            )
        return decoded

    # --- the calls the controller makes ---------------------------------------------------

    def server_version(self) -> tuple[int, int]:
        info = self.request("GET", "/version")
        return parse_version(info)

    def create_pod(self, namespace: str, pod: Mapping[str, Any], *, dry_run: bool = False) -> Any:
        query = [("fieldManager", FIELD_MANAGER)]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request("POST", f"/api/v1/namespaces/{namespace}/pods", query=query, body=pod)

    def get_pod(self, namespace: str, name: str) -> Any:
        return self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        answer = self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            query=[("labelSelector", label_selector)],
        )
        return list((answer or {}).get("items") or [])

    def delete_pod(self, namespace: str, name: str, uid: str) -> Any:
        # The uid precondition makes sure a Pod recreated under the same name in the
        # meantime is never deleted by mistake.
        return self.request(
            "DELETE",
            f"/api/v1/namespaces/{namespace}/pods/{name}",
            body={"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}},
        )

    def get_pattern(self, namespace: str, name: str) -> Any:
        return self.request("GET", pattern_path(namespace, name))

    def patch_pattern_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Any:
        """A JSON merge patch of status fields (None removes a field)."""
        return self.request(
            "PATCH",
            pattern_path(namespace, name) + "/status",
            query=[("fieldManager", FIELD_MANAGER)],
            body={"status": dict(patch)},
            content_type=MERGE_PATCH,
        )

    def get_profile(self, name: str) -> Any:
        """A SidecarProfile (cluster-scoped), for `podpatterns diff`."""
        return self.request("GET", f"/apis/{GROUP}/{VERSION}/sidecarprofiles/{name}")

    def patch_profile_status(self, name: str, patch: Mapping[str, Any]) -> Any:
        """A JSON merge patch of a SidecarProfile's status fields (cluster-scoped)."""
        return self.request(
            "PATCH",
            f"/apis/{GROUP}/{VERSION}/sidecarprofiles/{name}/status",
            query=[("fieldManager", FIELD_MANAGER)],
            body={"status": dict(patch)},
            content_type=MERGE_PATCH,
        )

    def dry_run_apply_pattern(self, body: Mapping[str, Any], field_manager: str) -> Any:
        """What the API server would store if `body` were applied; nothing is written."""
        meta = body.get("metadata") or {}
        return self.request(
            "PATCH",
            pattern_path(str(meta.get("namespace") or "default"), str(meta.get("name"))),
            query=[("fieldManager", field_manager), ("force", "true"), ("dryRun", "All")],
            body=dict(body),
            content_type=APPLY_PATCH,
        )

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> Any:
        return self.request("POST", f"/api/v1/namespaces/{namespace}/events", body=event)

    def create_peering(self, name: str, namespace: str | None = None) -> Any:
        """Kopf's peering object: a ClusterKopfPeering, or a KopfPeering in `namespace`."""
        kind, where = "ClusterKopfPeering", "/apis/kopf.dev/v1/clusterkopfpeerings"
        if namespace is not None:
            kind, where = "KopfPeering", f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings"
        body = {"apiVersion": "kopf.dev/v1", "kind": kind, "metadata": {"name": name}}
        return self.request("POST", where, body=body)


class OwnedObjectClient:
    """Server-side apply, get and delete, by kind, of the objects PodPatterns own, on the
    operator's raw-JSON client. A subclass says where each of its kinds lives."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def _object_path(self, kind: str, namespace: str, name: str) -> str:
        raise NotImplementedError

    def apply(self, obj: Mapping[str, Any]) -> Any:
        """As field manager `podpatterns`, forcing conflicts: the operator's view of its
        own objects wins over edits by hand."""
        meta = obj["metadata"]
        return self.api.request(
            "PATCH",
            self._object_path(str(obj["kind"]), str(meta["namespace"]), str(meta["name"])),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=dict(obj),
            content_type=APPLY_PATCH,
        )

    def get(self, kind: str, namespace: str, name: str) -> Any:
        return self.api.request("GET", self._object_path(kind, namespace, name))

    def delete(
        self, kind: str, namespace: str, name: str, uid: str, propagation: str | None = None
    ) -> Any:
        # The uid precondition: an object recreated under the same name is never deleted
        # by mistake.
        options: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"uid": uid},
        }
        if propagation is not None:
            options["propagationPolicy"] = propagation
        return self.api.request("DELETE", self._object_path(kind, namespace, name), body=options)


def load_configuration(
    *, kubeconfig: str | None = None, context: str | None = None
) -> kubernetes.client.Configuration:
    """In-cluster credentials when running in a Pod (and no kubeconfig is asked for), else
    the kubeconfig. Built privately: the client's global default stays untouched."""
    config = kubernetes.client.Configuration()
    if kubeconfig is None and context is None:
        try:
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
            return config
        except kubernetes.config.ConfigException:
            pass
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, context=context, client_configuration=config
    )
    return config


def pattern_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


def parse_version(info: Mapping[str, Any] | None) -> tuple[int, int]:
    """(major, minor) from `/version`; minor may carry a suffix such as `29+`."""
    info = info or {}
    major = _leading_int(info.get("major"))
    minor = _leading_int(info.get("minor"))
    if major is None or minor is None:
        match = re.match(r"v?(\d+)\.(\d+)", str(info.get("gitVersion") or ""))
        if match is None:
            raise ValueError(f"cannot read the server version from {dict(info)!r}")
        return int(match.group(1)), int(match.group(2))
    return major, minor


def _leading_int(value: object) -> int | None:
    match = re.match(r"\d+", str(value or ""))
    return int(match.group(0)) if match else None
