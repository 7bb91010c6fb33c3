"""What the real API server makes of the generated CRDs and the rendered manifests.

The unit tests prove the renderer and the schema generator against golden files; these
prove the goldens are right: the API server accepts every rendered Pod, applies the CRD's
validation (types, enums, CEL) with messages that name the field, and documents every field
through `kubectl explain`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.support.kube import Cluster
from tests.unit.golden import (
    GOLDEN,
    iter_error_cases,
    iter_golden_cases,
    load_yaml,
    problems,
    render_workload_case,
)


def _in_namespace(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    placed = copy.deepcopy(manifest)
    placed["metadata"]["namespace"] = namespace
    return placed


def _dry_run(cluster: Cluster, manifest: dict[str, Any]) -> Any:
    return cluster.kubectl("create", "--dry-run=server", "-f", "-",
                           input=yaml.safe_dump(manifest), check=False)


def test_crds_are_established_with_scale_and_status(cluster: Cluster, crds: None) -> None:
    crd = cluster.get("crd", "podpatterns.podpatterns.dev")
    version = crd["spec"]["versions"][0]
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.workload.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    assert "status" in version["subresources"]
    assert crd["spec"]["names"]["shortNames"] == ["pp"]
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions.get("NonStructuralSchema", "False") == "False"
    profile = cluster.get("crd", "sidecarprofiles.podpatterns.dev")
    assert profile["spec"]["scope"] == "Cluster"
    assert profile["spec"]["names"]["shortNames"] == ["spf"]


@pytest.mark.parametrize("case", list(iter_golden_cases()), ids=lambda c: c.name)
def test_golden_input_and_rendered_pods_are_accepted(
    cluster: Cluster, crds: None, namespace: str, case: Any
) -> None:
    body = load_yaml(GOLDEN / case.name / "input.yaml")
    body["metadata"] = {"name": case.pattern.metadata.name, "namespace": namespace}
    accepted = _dry_run(cluster, body)
    assert accepted.returncode == 0, f"PodPattern {case.name}: {accepted.stderr}"
    assert case.expected, f"golden case {case.name} has no expected output"
    # A Pod that mounts claimTemplate volumes exists only inside a StatefulSet, which
    # brings those volumes; the StatefulSet is checked below.
    claims = any(volume.claim_template for volume in case.pattern.spec.volumes)
    for variant, pod in case.expected.items():
        if claims:
            continue
        result = _dry_run(cluster, _in_namespace(pod, namespace))
        assert result.returncode == 0, f"{case.name} ({variant}): {result.stderr}"
    for obj in render_workload_case(case):
        result = _dry_run(cluster, _in_namespace(obj, namespace))
        assert result.returncode == 0, f"{case.name} ({obj['kind']}): {result.stderr}"


@pytest.mark.parametrize("case", list(iter_error_cases()), ids=lambda c: c.name)
def test_bad_input_is_caught_and_names_the_field(
    cluster: Cluster, crds: None, namespace: str, case: Any
) -> None:
    """Each bad spec is refused by the API server naming the field, or else by the
    operator's own checks; and whatever the server refuses, `podpatterns validate` (which
    runs the same checks offline) refuses too, at the same path."""
    body = copy.deepcopy(case.body)
    body["metadata"] = {"name": body["metadata"]["name"], "namespace": namespace}
    result = _dry_run(cluster, body)
    offline = problems(case.body, case.profiles)
    if result.returncode != 0:
        assert case.path in result.stderr, result.stderr
        assert any(p.path == case.path for p in offline), (case.path, offline)
    else:
        assert any(p.path == case.path for p in offline), (
            f"{case.name}: the API server accepts it, so the operator must report "
            f"{case.path}; it reported {offline}")


def test_kubectl_explain_documents_the_api(cluster: Cluster, crds: None) -> None:
    from podpatterns.api.v1alpha1 import Sidecar

    explained = cluster.kubectl("explain", "podpattern.spec.sidecars").stdout
    assert "FIELDS:" in explained
    description = (Sidecar.__doc__ or "").split("\n")[0].strip()
    assert description and description[:40] in " ".join(explained.split())
    recursive = cluster.kubectl("explain", "podpattern.spec", "--recursive").stdout
    for field in ("workload", "main", "sidecars", "initContainers", "volumes", "pod",
                  "service", "sidecarMode"):
        assert f"{field}\t" in recursive or f"{field} " in recursive, field
    for path in ("podpattern.spec.workload.rollout.maxSurge", "podpattern.spec.volumes.readOnly",
                 "sidecarprofile.spec.allow"):
        text = cluster.kubectl("explain", path).stdout
        body = text.split("DESCRIPTION:", 1)[1].strip()
        assert body and "<empty>" not in body, f"{path} has no description"
