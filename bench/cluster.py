"""The dev cluster as the benchmark needs it: options per fairness mode, CRDs, and an
identity of its own for the operator so that the audit log tells its writes apart.
"""

from __future__ import annotations

import base64
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bench.kube import APPLY_PATCH, Kube, KubeError
from podpatterns.devcluster.cluster import DevCluster, Options
from podpatterns.devcluster.processes import PortTaken

OPERATOR_NAMESPACE = "podpatterns-bench"
OPERATOR_ACCOUNT = "podpatterns-operator"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}"
FIELD_MANAGER = "podpatterns-bench"
NAMESPACE_PREFIX = "ppbench-"
PODS_PER_NODE = 500
# kube-controller-manager's own client defaults (--kube-api-qps, --kube-api-burst).
KCM_DEFAULT_QPS = 20.0
KCM_DEFAULT_BURST = 30
# "Unlimited" for kube-controller-manager: client-go takes 0 to mean its default of 5, so
# the limit is raised far beyond what this machine can serve instead.
UNLIMITED_QPS = 100000.0
UNLIMITED_BURST = 100000


@dataclass(frozen=True)
class Mode:
    key: str
    title: str
    kcm_qps: float | None
    kcm_burst: int | None
    operator_qps: float
    operator_burst: int

    def describe(self) -> str:
        kcm = (f"{self.kcm_qps:g} QPS / burst {self.kcm_burst}" if self.kcm_qps is not None
               else f"{KCM_DEFAULT_QPS:g} QPS / burst {KCM_DEFAULT_BURST} (its defaults)")
        operator = (f"{self.operator_qps:g} QPS / burst {self.operator_burst}"
                    if self.operator_qps > 0 else "no client limit (--qps 0)")
        return f"kube-controller-manager {kcm}; podpatterns {operator}"


MODES = {
    "A": Mode("A", "same client rate as kube-controller-manager's defaults",
              None, None, KCM_DEFAULT_QPS, KCM_DEFAULT_BURST),
    "B": Mode("B", "both unlimited", UNLIMITED_QPS, UNLIMITED_BURST, 0.0, KCM_DEFAULT_BURST),
}


def mode_of(options: Options | None) -> Mode | None:
    """The mode a running cluster can serve without a restart."""
    if options is None:
        return None
    qps = options.controller_manager_qps
    if qps is None or qps == KCM_DEFAULT_QPS:
        return MODES["A"]
    if qps >= 1000:
        return MODES["B"]
    return None


def bench_options(mode: Mode, max_pods: int, base: Options | None = None) -> Options:
    """Enough kwok capacity for the largest scenario, the audit log on, no real node and no
    GPU node (a real kubelet and containerd would only add noise on a small machine)."""
    workers = max(2, math.ceil(max_pods * 1.2 / PODS_PER_NODE))
    return replace(
        base or Options(),
        workers=workers,
        gpu_nodes=0,
        worker_pods=PODS_PER_NODE,
        real_nodes=0,
        audit=True,
        controller_manager_qps=mode.kcm_qps,
        controller_manager_burst=mode.kcm_burst,
    )


class BenchCluster:
    def __init__(self, dev: DevCluster | None = None) -> None:
        self.dev = dev or DevCluster()
        self._admin: Kube | None = None

    @property
    def layout(self) -> Any:
        return self.dev.layout

    @property
    def audit_log(self) -> Path:
        path: Path = self.dev.layout.audit_log
        return path

    def running_options(self) -> Options | None:
        status = self.dev.status()
        return status.options if status.up else None

    def is_up(self) -> bool:
        return self.dev.status().up

    def audit_enabled(self) -> bool:
        options = self.running_options()
        return bool(options and options.audit) and self.audit_log.exists()

    def up(self, options: Options, attempts: int = 3) -> None:
        """`dev-cluster up`, tried again when a port is still held: right after `down` a
        stopped API server can still be closing its listening socket."""
        for attempt in range(1, attempts + 1):
            try:
                self.dev.up(options)
                break
            except PortTaken:
                if attempt == attempts:
                    raise
                time.sleep(2.0 * attempt)
        self._admin = None  # a restarted cluster may have new certificates

    def down(self) -> None:
        self.dev.down()
        self._admin = None

    def admin(self) -> Kube:
        if self._admin is None:
            self._admin = Kube.from_kubeconfig(self.dev.layout.kubeconfig)
        return self._admin

    def server_version(self) -> tuple[int, int]:
        info = self.admin().get("/version")
        minor = "".join(ch for ch in str(info.get("minor", "")) if ch.isdigit())
        return int(info["major"]), int(minor)

    def pod_capacity(self) -> int:
        """Pods that still fit on untainted, Ready nodes."""
        nodes = self.admin().get("/api/v1/nodes")["items"]
        capacity = 0
        names = set()
        for node in nodes:
            if node.get("spec", {}).get("taints") or node.get("spec", {}).get("unschedulable"):
                continue
            conditions = node.get("status", {}).get("conditions") or ()
            if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                continue
            names.add(node["metadata"]["name"])
            capacity += int(node["status"]["allocatable"].get("pods", "0"))
        pods = self.admin().get("/api/v1/pods", fieldSelector="status.phase!=Succeeded,"
                                                              "status.phase!=Failed")["items"]
        used = sum(1 for p in pods if p.get("spec", {}).get("nodeName") in names)
        return capacity - used

    # -- CRDs ----------------------------------------------------------------------------
    def ensure_crds(self, *, replace_existing: bool) -> None:
        """Install the CRDs; on a shared cluster only when missing, so the benchmark never
        changes a CRD that someone else's tests installed."""
        from podpatterns.api.crd import render_crds

        kube = self.admin()
        for crd in render_crds().values():
            name = crd["metadata"]["name"]
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            if not replace_existing:
                try:
                    kube.get(path)
                    continue
                except KubeError as error:
                    if not error.not_found:
                        raise
            kube.request("PATCH", path, crd, content_type=APPLY_PATCH,
                         query={"fieldManager": FIELD_MANAGER, "force": "true"})
        for crd in render_crds().values():
            self._await_served(crd)

    def _await_served(self, crd: dict[str, Any], timeout: float = 60.0) -> None:
        """Until the API server lists the CRD's objects. Established comes first; until its
        storage is ready the API server answers 429, and an operator started then waits
        out its client's retry backoff in the first measured scenario."""
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served", True))
        scope = "" if spec["scope"] == "Cluster" else "namespaces/default/"
        path = f"/apis/{spec['group']}/{version}/{scope}{spec['names']['plural']}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.admin().get(path, limit="1")
                return
            except KubeError as error:
                if error.status not in (404, 429, 503) or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    # -- the operator's identity ----------------------------------------------------------
    def operator_kubeconfig(self, path: Path, lifetime_seconds: int = 6 * 3600) -> Path:
        """A ServiceAccount with the operator's rights and a kubeconfig holding a token for
        it from the TokenRequest API."""
        kube = self.admin()
        for collection, body in _identity_objects():
            _create_or_replace(kube, collection, body)
        answer = kube.create(
            f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/serviceaccounts/{OPERATOR_ACCOUNT}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": lifetime_seconds}},
        )
        token = answer["status"]["token"]
        admin_config = yaml.safe_load(self.dev.layout.kubeconfig.read_text())
        cluster = admin_config["clusters"][0]["cluster"]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "dev", "cluster": {
                "server": cluster["server"],
                "certificate-authority-data": cluster.get("certificate-authority-data")
                or base64.b64encode(Path(cluster["certificate-authority"]).read_bytes())
                .decode(),
            }}],
            "users": [{"name": OPERATOR_ACCOUNT, "user": {"token": token}}],
            "contexts": [{"name": "operator", "context": {"cluster": "dev",
                                                          "user": OPERATOR_ACCOUNT}}],
            "current-context": "operator",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        os.chmod(path, 0o600)
        path.write_text(yaml.safe_dump(config))
        return path

    def remove_operator_identity(self) -> None:
        """Delete the binding and the account's namespace (with the account and its
        tokens): a cluster-admin binding should not outlive the run on a shared cluster."""
        for collection, body in reversed(_identity_objects()):
            path = f"{collection}/{body['metadata']['name']}"
            if body["kind"] == "ServiceAccount":
                continue  # goes with its namespace
            try:
                self.admin().delete(path)
            except KubeError as error:
                if not error.not_found:
                    raise

    # -- namespaces ----------------------------------------------------------------------
    def create_namespace(self, name: str) -> None:
        self.admin().create("/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"podpatterns.dev/bench": "true"}},
        })

    def namespace_ready(self, name: str) -> bool:
        """kube-controller-manager has made the default ServiceAccount (Pods cannot be
        created before) and published the root CA: its own writes at namespace creation,
        which must not be counted against a scenario."""
        try:
            self.admin().get(f"/api/v1/namespaces/{name}/serviceaccounts/default")
            self.admin().get(f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt")
        except KubeError as error:
            if error.not_found:
                return False
            raise
        return True

    def empty_namespace(self, name: str) -> int:
        """Delete the workload objects, then their Pods at once (grace period 0: kwok
        nodes have nothing to stop). Returns the Pods left, 0 when done.

        The owners go first so that no controller recreates what is deleted, and the
        ReplicaSets of Deployments are deleted here too: otherwise the garbage collector
        deletes them one by one through kube-controller-manager's rate-limited client,
        into the next scenario. A namespace itself takes kube-controller-manager at least
        5 seconds to delete, so emptied namespaces are deleted together at the end.
        """
        kube = self.admin()
        for collection in (
            f"/apis/podpatterns.dev/v1alpha1/namespaces/{name}/podpatterns",
            f"/apis/apps/v1/namespaces/{name}/deployments",
            f"/apis/apps/v1/namespaces/{name}/replicasets",
        ):
            kube.request("DELETE", collection,
                         {"kind": "DeleteOptions", "apiVersion": "v1",
                          "propagationPolicy": "Background"})
        kube.request("DELETE", f"/api/v1/namespaces/{name}/pods",
                     {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
        return self.pods_in(name)

    def bench_namespaces(self) -> list[str]:
        items = self.admin().get("/api/v1/namespaces")["items"]
        return [n["metadata"]["name"] for n in items
                if n["metadata"]["name"].startswith(NAMESPACE_PREFIX)]

    def delete_namespace(self, name: str) -> None:
        try:
            self.admin().delete(f"/api/v1/namespaces/{name}")
        except KubeError as error:
            if not error.not_found:
                raise

    def namespace_gone(self, name: str) -> bool:
        try:
            self.admin().get(f"/api/v1/namespaces/{name}")
        except KubeError as error:
            if error.not_found:
                return True
            raise
        return False

    def pods_in(self, name: str) -> int:
        return len(self.admin().get(f"/api/v1/namespaces/{name}/pods")["items"])


def _identity_objects() -> list[tuple[str, dict[str, Any]]]:
    """The operator's ServiceAccount, bound to cluster-admin. The benchmark measures speed
    and writes, not permissions, and a role of its own would lag behind what the operator
    watches (a Forbidden list stops the operator in the middle of a run)."""
    binding = f"{FIELD_MANAGER}:operator"
    return [
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": OPERATOR_NAMESPACE}}),
        (f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/serviceaccounts",
         {"apiVersion": "v1", "kind": "ServiceAccount",
          "metadata": {"name": OPERATOR_ACCOUNT, "namespace": OPERATOR_NAMESPACE}}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
          "metadata": {"name": binding},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                      "name": "cluster-admin"},
          "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_ACCOUNT,
                        "namespace": OPERATOR_NAMESPACE}]}),
    ]


def _create_or_replace(kube: Kube, collection: str, body: dict[str, Any]) -> None:
    try:
        kube.create(collection, body)
    except KubeError as error:
        if not error.conflict:
            raise
        if body["kind"] in ("Namespace", "ServiceAccount"):
            return
        path = f"{collection}/{body['metadata']['name']}"
        current = kube.get(path)
        updated = dict(body)
        updated["metadata"] = dict(body["metadata"],
                                   resourceVersion=current["metadata"]["resourceVersion"])
        try:
            kube.request("PUT", path, updated)
        except KubeError as refused:
            if refused.status != 422:  # e.g. a binding's roleRef, which cannot change
                raise
            kube.delete(path)
            kube.create(collection, body)
