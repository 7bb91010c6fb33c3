"""`kubectl apply -k deploy/` on the test cluster, and the operator under exactly its RBAC.

The operator runs here as a local process (fast: no image needed) with a TokenRequest token
of the deploy ServiceAccount and nothing else: if the ClusterRole lacked anything the
operator does, it would fail here. The in-cluster run from the built image is in
test_in_cluster.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from podpatterns.controller.handlers import READY_LINE
from tests.deploy.install import (
    installed,
    pattern_manifest,
    pattern_pods,
    token_kubeconfig,
    wait_pattern,
)
from tests.deploy.manifests import DEPLOY, NAME, NAMESPACE, REPO, SERVICE_ACCOUNT
from tests.deploy.rbac_derivation import Permission, derived_permissions
from tests.support.kube import Cluster
from tests.support.metrics import free_port
from tests.support.wait import wait_until

# Words the operator, Kopf or the client log when the API server refuses for want of rights.
REFUSALS = ("forbidden", "not enough permissions")
# Refused for another reason: a clusterwide operator meets other tests' namespaces while
# they are being deleted.
NOT_RBAC = ("being terminated",)


@pytest.fixture(scope="module")
def install(cluster: Cluster) -> Iterator[subprocess.CompletedProcess[str]]:
    with installed(cluster, DEPLOY) as applied:
        yield applied


def test_apply_succeeds_and_a_second_apply_and_diff_change_nothing(
    cluster: Cluster, install: subprocess.CompletedProcess[str]
) -> None:
    assert install.returncode == 0, f"kubectl apply -k deploy/ failed:\n{install.stderr}"
    assert "created" in install.stdout
    diff = cluster.kubectl("diff", "-k", str(DEPLOY), check=False, timeout=120)
    assert diff.returncode == 0 and diff.stdout == "", (
        f"kubectl diff -k deploy/ after applying it (exit {diff.returncode}):\n"
        f"{diff.stdout[-3000:]}{diff.stderr[-2000:]}"
    )
    # Applying again writes nothing. (kubectl prints "configured" for the
    # PodDisruptionBudget every time: its selector's patch strategy is "replace", so the
    # patch kubectl sends is never empty, yet the object stays as it was.)
    before = _versions(cluster)
    cluster.kubectl("apply", "-k", str(DEPLOY), timeout=120)
    assert _versions(cluster) == before


def _versions(cluster: Cluster) -> dict[str, str]:
    """Each object's generation where it has one (status updates do not move it), else
    its resourceVersion."""
    listing = cluster.get("-k", str(DEPLOY))
    return {
        f"{item['kind']}/{item['metadata']['name']}": str(
            item["metadata"].get("generation") or item["metadata"]["resourceVersion"]
        )
        for item in listing["items"]
    }


def test_the_deployment_is_admitted_under_the_restricted_standard(
    cluster: Cluster, install: subprocess.CompletedProcess[str]
) -> None:
    # The namespace enforces the restricted Pod Security Standard: Pods that broke it
    # would never be created. On simulated nodes they become Ready without running.
    def pods() -> list[str] | None:
        items = cluster.get("pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=podpatterns")[
            "items"
        ]
        return [p["metadata"]["name"] for p in items] if len(items) == 2 else None

    wait_until(pods, timeout=60, what="the Deployment's two Pods")
    budget = wait_until(
        lambda: (lambda b: b if b.get("status", {}).get("currentHealthy") == 2 else None)(
            cluster.get("pdb", NAME, "-n", NAMESPACE)
        ),
        timeout=60,
        what="the PodDisruptionBudget to count two healthy Pods",
    )
    assert budget["status"]["disruptionsAllowed"] == 1
    warnings = cluster.get("events", "-n", NAMESPACE, "--field-selector", "type=Warning")
    refused = [e["message"] for e in warnings["items"] if "violate" in e.get("message", "")]
    assert not refused, refused


def _can_i(cluster: Cluster, permission: Permission) -> bool:
    group, resource, verb, name = permission
    base, _, sub = resource.partition("/")
    target = f"{base}.{group}" if group else base
    if name:
        target += f"/{name}"
    args = ["auth", "can-i", verb, target, f"--as={SERVICE_ACCOUNT}", "--all-namespaces"]
    if sub:
        args.append(f"--subresource={sub}")
    answer = cluster.kubectl(*args, check=False)
    # can-i exits 1 for "no": only a clear yes or no on a resource the server knows is an
    # answer, or a typo in the list above would pass as refused.
    assert answer.stdout.strip() in ("yes", "no"), f"{args}: {answer.stdout}{answer.stderr}"
    assert "resource type" not in answer.stderr, f"{args}: {answer.stderr}"
    return answer.stdout.strip() == "yes"


def test_the_account_may_do_what_the_operator_does_and_no_more(
    cluster: Cluster, install: subprocess.CompletedProcess[str]
) -> None:
    assert install.returncode == 0
    for permission in sorted(derived_permissions()):
        assert _can_i(cluster, permission), f"the ServiceAccount may not {permission}"
    refused: list[Permission] = [
        ("", "secrets", "get", ""),
        ("", "secrets", "list", ""),
        ("", "secrets", "watch", ""),
        ("", "configmaps", "update", ""),
        ("", "pods", "update", ""),
        ("", "pods", "patch", ""),
        ("", "pods/exec", "create", ""),
        ("", "serviceaccounts/token", "create", ""),
        ("podpatterns.dev", "podpatterns", "delete", ""),
        ("podpatterns.dev", "podpatterns", "patch", ""),
        ("podpatterns.dev", "sidecarprofiles", "delete", ""),
        ("podpatterns.dev", "sidecarprofiles", "patch", ""),
        ("kopf.dev", "clusterkopfpeerings", "patch", "someone-elses"),
        ("kopf.dev", "clusterkopfpeerings", "delete", ""),
        ("apiextensions.k8s.io", "customresourcedefinitions", "delete", ""),
        ("rbac.authorization.k8s.io", "clusterroles", "escalate", ""),
    ]
    allowed = [p for p in refused if _can_i(cluster, p)]
    assert not allowed, f"the ServiceAccount may do more than it needs: {allowed}"


def test_the_operator_reconciles_with_nothing_but_the_accounts_token(
    cluster: Cluster,
    install: subprocess.CompletedProcess[str],
    namespace: str,
    tmp_path: Path,
) -> None:
    assert install.returncode == 0
    kubeconfig = token_kubeconfig(cluster, tmp_path / "operator.kubeconfig")
    as_operator = ("--kubeconfig", str(kubeconfig))
    whoami = cluster.kubectl(
        "auth", "whoami", *as_operator, "-o", "jsonpath={.status.userInfo.username}"
    ).stdout
    assert whoami == SERVICE_ACCOUNT
    # A fresh install has no peering object: the operator creates it, with these rights.
    assert not cluster.kubectl("get", "clusterkopfpeering", "podpatterns", check=False).stdout

    port, metrics_port = free_port(), free_port()
    log_path = tmp_path / "operator.log"
    # The Deployment's flags, with the token's kubeconfig instead of the in-cluster one.
    argv = [
        sys.executable,
        "-m",
        "podpatterns",
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "--peering",
        "podpatterns",
        "--priority",
        "1",
        "--liveness",
        f"http://127.0.0.1:{port}/healthz",
        "--metrics-address",
        f"127.0.0.1:{metrics_port}",
    ]
    env = {k: v for k, v in cluster.env.items() if k != "KUBECONFIG"}
    env["PYTHONUNBUFFERED"] = "1"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    def log_text() -> str:
        return log_path.read_text(errors="replace")

    def started() -> bool:
        assert process.poll() is None, f"the operator exited:\n{log_text()[-3000:]}"
        return READY_LINE in log_text() and "Resuming operations" in log_text()

    try:
        wait_until(started, timeout=60, what="the operator to start and become the active peer")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as health:
            assert health.status == 200
        assert "Created the ClusterKopfPeering podpatterns" in log_text()

        cluster.apply(pattern_manifest("rbac", namespace, replicas=2))
        body = wait_pattern(cluster, namespace, "rbac", replicas=2, timeout=60)
        pods = pattern_pods(cluster, namespace, "rbac")
        assert len(pods) == 2
        uid = body["metadata"]["uid"]
        assert all(p["metadata"]["ownerReferences"][0]["uid"] == uid for p in pods)
        # Scaling down makes it delete a Pod: the last verb it needs.
        cluster.kubectl(
            "patch",
            "podpattern",
            "rbac",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"spec":{"workload":{"replicas":1}}}',
        )
        wait_pattern(cluster, namespace, "rbac", replicas=1, timeout=60)
        wait_until(
            lambda: len(pattern_pods(cluster, namespace, "rbac")) == 1,
            timeout=60,
            what="the operator to delete the surplus Pod",
        )
        events = cluster.get(
            "events", "-n", namespace, "--field-selector", "involvedObject.kind=PodPattern"
        )["items"]
        assert any(e.get("reportingComponent") == "podpatterns" for e in events), events
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            metrics = answer.read().decode()
        assert "\npodpatterns_active 1.0\n" in metrics, metrics
        assert 'podpatterns_reconcile_total{result="success"}' in metrics, metrics
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    text = log_text().lower()
    refusals = [
        line
        for line in text.splitlines()
        if any(word in line for word in REFUSALS) and not any(word in line for word in NOT_RBAC)
    ]
    assert not refusals, "the operator was refused something:\n" + "\n".join(refusals[:20])
    # On its way out it removed itself from the peering object (a patch under the token).
    peers = cluster.get("clusterkopfpeering", "podpatterns").get("status") or {}
    assert not [peer for peer in peers.values() if peer and peer.get("priority") == 1], peers
