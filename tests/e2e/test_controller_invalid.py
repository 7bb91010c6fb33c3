"""Bad specs: reported with the field path, running Pods untouched, a fix recovers."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Operator
from tests.e2e.helpers import condition, events_for, get_pattern, pattern, pods_of, wait_ready
from tests.support.kube import Cluster
from tests.support.wait import wait_until

pytestmark = pytest.mark.cluster


def _valid_condition(cluster: Cluster, namespace: str, status: str) -> dict[str, object] | None:
    body = get_pattern(cluster, namespace, "web")
    valid = condition(body, "Valid")
    if (
        valid is not None
        and valid["status"] == status
        and valid.get("observedGeneration") == body["metadata"]["generation"]
    ):
        return valid
    return None


def _pod_identity(cluster: Cluster, namespace: str) -> list[tuple[str, str, str]]:
    return sorted(
        (p["metadata"]["name"], p["metadata"]["uid"], p["metadata"]["resourceVersion"])
        for p in pods_of(cluster, namespace, "web")
    )


@pytest.mark.parametrize(
    ("breakage", "reason", "path"),
    [
        pytest.param(
            {
                "volumes": [
                    {
                        "name": "data",
                        "mountPath": "/data",
                        "containers": ["app", "nope"],
                        "emptyDir": {},
                    }
                ]
            },
            "UndefinedContainer",
            "spec.volumes[0].containers[1]",
            id="volume-names-a-missing-container",
        ),
        pytest.param(
            {
                "sidecars": [
                    {"name": "app", "image": "busybox:1.36", "command": ["sleep", "1d"]},
                ]
            },
            None,
            "spec.sidecars[0].name",
            id="duplicate-container-name",
        ),
    ],
)
def test_semantic_error_is_reported_and_leaves_pods_alone(
    cluster: Cluster,
    namespace: str,
    operator: Operator,
    breakage: dict[str, object],
    reason: str | None,
    path: str,
) -> None:
    good = pattern("web", namespace, replicas=2)
    cluster.apply(good)
    wait_ready(cluster, namespace, "web", 2)
    pods_before = _pod_identity(cluster, namespace)

    bad = pattern("web", namespace, replicas=3, **breakage)
    cluster.apply(bad)  # the schema accepts it: only the operator can tell
    valid = wait_until(
        lambda: _valid_condition(cluster, namespace, "False"),
        timeout=60,
        what="Valid=False on the PodPattern",
    )
    if reason is not None:
        assert valid["reason"] == reason
    assert path in str(valid["message"]), valid
    body = get_pattern(cluster, namespace, "web")
    assert body["status"]["phase"] == "Invalid"

    warnings = [
        e
        for e in events_for(cluster, namespace, "web")
        if e["type"] == "Warning" and e["reason"] == "InvalidSpec"
    ]
    assert warnings and path in warnings[0]["message"]
    # Nothing was created (replicas went to 3), deleted or changed.
    assert _pod_identity(cluster, namespace) == pods_before
    operator.assert_healthy()

    cluster.apply(good)
    wait_until(
        lambda: _valid_condition(cluster, namespace, "True"),
        timeout=60,
        what="Valid=True after the fix",
    )
    wait_ready(cluster, namespace, "web", 2)
    assert _pod_identity(cluster, namespace) == pods_before
    operator.assert_healthy()


POLICY_ENV = "PODPATTERNS_E2E_FORBIDDEN"


def _forbid_env_by_policy(cluster: Cluster, namespace: str) -> str:
    """A ValidatingAdmissionPolicy refusing Pods in `namespace` that set POLICY_ENV: a rule
    of this cluster that no offline check can know, answered with 422 Invalid like Pod
    validation. Returns the policy's name; it is in force once a dry run is refused."""
    name = f"e2e-{namespace}"
    cluster.apply({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["pods"],
            }]},
            "validations": [{
                "expression": "object.spec.containers.all(c, !has(c.env) || "
                f"!c.env.exists(e, e.name == '{POLICY_ENV}'))",
                "message": f"this cluster's policy refuses the variable {POLICY_ENV}",
                "reason": "Invalid",
            }],
        },
    })
    cluster.apply({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": namespace},
            }},
        },
    })
    probe = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "policy-probe", "namespace": namespace},
        "spec": {"containers": [{
            "name": "c", "image": "busybox:1.36", "env": [{"name": POLICY_ENV, "value": "1"}],
        }]},
    }
    wait_until(
        lambda: cluster.create(probe, "--dry-run=server", check=False).returncode != 0,
        timeout=30,
        what=f"ValidatingAdmissionPolicy {name} in force",
    )
    return name


def test_a_pod_the_api_server_refuses_costs_no_running_pod(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(pattern("web", namespace, replicas=2, max_surge=0, max_unavailable=1))
    wait_ready(cluster, namespace, "web", 2)
    pods_before = _pod_identity(cluster, namespace)
    policy = _forbid_env_by_policy(cluster, namespace)
    try:
        _refused_by_the_server_and_recovered(cluster, namespace, operator, pods_before)
    finally:
        cluster.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy",
                        policy, "--ignore-not-found", check=False)


def _refused_by_the_server_and_recovered(
    cluster: Cluster, namespace: str, operator: Operator, pods_before: list[tuple[str, str, str]]
) -> None:
    # Valid for every offline check, refused by the cluster when the Pod is created.
    bad = pattern("web", namespace, replicas=2, max_surge=0, max_unavailable=1)
    bad["spec"]["main"]["env"] = [{"name": POLICY_ENV, "value": "1"}]
    cluster.apply(bad)
    valid = wait_until(
        lambda: _valid_condition(cluster, namespace, "False"),
        timeout=60,
        what="Valid=False after the API server refused the new Pod",
    )
    assert valid["reason"] == "PodRejected", valid
    # The server's own words: the policy that refused the Pod, and why.
    assert f"e2e-{namespace}" in str(valid["message"]), valid
    assert f"refuses the variable {POLICY_ENV}" in str(valid["message"]), valid
    warnings = [
        e["reason"] for e in events_for(cluster, namespace, "web") if e["type"] == "Warning"
    ]
    assert "PodRejected" in warnings
    assert _pod_identity(cluster, namespace) == pods_before
    operator.assert_healthy()

    cluster.apply(pattern("web", namespace, replicas=2, max_surge=0, max_unavailable=1))
    wait_until(
        lambda: _valid_condition(cluster, namespace, "True"),
        timeout=60,
        what="Valid=True after the fix",
    )
    wait_ready(cluster, namespace, "web", 2)
