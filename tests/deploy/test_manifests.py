"""deploy/ without a cluster: CRD copies, the Deployment's hardening, HA wiring, overlays."""

from __future__ import annotations

import copy
import json
import re
import tomllib
import urllib.parse
from typing import Any

from tests.deploy.manifests import (
    BASE,
    DEPLOY,
    DEV_OVERLAY,
    NAMESPACE,
    REPO,
    base_documents,
    container,
    find,
    kustomize,
)

ANNOTATION_LIMIT = 256 * 1024
"""What the API server allows for all annotations of an object together; client-side
`kubectl apply` stores the whole object as JSON in one of them."""


def _deployment() -> dict[str, Any]:
    return find(base_documents(), "Deployment")


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


# --- the CRDs ------------------------------------------------------------------------------


def test_the_crd_copies_are_those_in_crds() -> None:
    # crds/ is the source (tests/unit checks it against the models); deploy/ carries
    # copies because kustomize reads nothing outside its folder.
    sources = {p.name: p.read_text() for p in (REPO / "crds").glob("*.yaml")}
    copies = {p.name: p.read_text() for p in (BASE / "crds").glob("*.yaml")}
    assert sources, "no CRDs in crds/"
    stale = sorted(
        name for name in sources.keys() | copies.keys() if sources.get(name) != copies.get(name)
    )
    assert not stale, (
        f"deploy/base/crds/ differs from crds/ ({', '.join(stale)}): refresh it with "
        "rm deploy/base/crds/*.yaml && cp crds/*.yaml deploy/base/crds/ and list every "
        "file in deploy/base/kustomization.yaml"
    )


def test_the_kustomization_installs_every_crd() -> None:
    import yaml

    listed = yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]
    for path in (BASE / "crds").glob("*.yaml"):
        assert f"crds/{path.name}" in listed


def test_every_object_fits_client_side_applys_annotation() -> None:
    # `kubectl apply -k` without --server-side keeps each object's JSON in the
    # last-applied-configuration annotation; past the limit it fails (then use
    # `kubectl apply --server-side -k deploy/`, as docs/deploy.md says).
    sizes = {
        f"{d['kind']}/{d['metadata']['name']}": len(json.dumps(d, separators=(",", ":")))
        for d in base_documents()
    }
    largest = max(sizes, key=lambda name: sizes[name])
    assert sizes[largest] < ANNOTATION_LIMIT * 0.8, (
        f"{largest} is {sizes[largest]} bytes as JSON, close to the {ANNOTATION_LIMIT}-byte "
        "annotation limit of client-side apply: switch docs and tests to --server-side"
    )


# --- the Deployment ------------------------------------------------------------------------


def test_two_replicas_one_active_through_kopf_peering() -> None:
    deployment = _deployment()
    assert deployment["spec"]["replicas"] == 2
    operator = container(deployment, "operator")
    args = operator["args"]
    peering = args[args.index("--peering") + 1]
    # The image's entry point runs, with no wrapper: without --priority each replica draws
    # a random one, and it creates the peering object itself (no init container).
    assert "command" not in operator
    assert "--priority" not in args
    assert not deployment["spec"]["template"]["spec"].get("initContainers")
    # A crashed replica holds the standby back for its heartbeat's lifetime; the takeover
    # bound in docs/deploy.md is that plus a few seconds.
    assert 10 <= int(args[args.index("--peering-lifetime") + 1]) <= 20
    # Kopf's identity of each peer is the Pod's name.
    env = {e["name"]: e for e in operator["env"]}
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # The role lets it heartbeat into its own peering object only.
    role = find(base_documents(), "ClusterRole")
    patch_rules = [
        r
        for r in role["rules"]
        if "clusterkopfpeerings" in r["resources"] and "patch" in r["verbs"]
    ]
    assert [r.get("resourceNames") for r in patch_rules] == [[peering]]
    crd = find(base_documents(), "CustomResourceDefinition", "clusterkopfpeerings.kopf.dev")
    assert crd["spec"]["scope"] == "Cluster"


def test_the_pod_meets_the_restricted_standard() -> None:
    deployment = _deployment()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for item in _containers(deployment):
        context = item["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, item["name"]
        assert context["readOnlyRootFilesystem"] is True, item["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, item["name"]
        assert not context.get("privileged"), item["name"]
    namespace = find(base_documents(), "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_resources_are_requested_and_limited() -> None:
    for item in _containers(_deployment()):
        for kind in ("requests", "limits"):
            assert set(item["resources"][kind]) == {"cpu", "memory"}, (item["name"], kind)


def test_the_image_is_pinned_to_the_projects_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for item in _containers(_deployment()):
        assert item["image"] == f"localhost/podpatterns/operator:{version}", item["name"]
        assert item["imagePullPolicy"] == "IfNotPresent"


def test_probes_use_kopfs_health_endpoint() -> None:
    operator = container(_deployment(), "operator")
    args = operator["args"]
    url = urllib.parse.urlsplit(args[args.index("--liveness") + 1])
    assert url.hostname == "0.0.0.0"  # reachable by the kubelet, not only on loopback
    ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = operator[probe]["httpGet"]
        assert get["path"] == url.path, probe
        assert ports[get["port"]] == url.port, probe


def test_the_metrics_service_scrapes_the_operators_metrics_port() -> None:
    documents = base_documents()
    deployment = find(documents, "Deployment")
    service = find(documents, "Service", "podpatterns-metrics")
    operator = container(deployment, "operator")
    args = operator["args"]
    address = urllib.parse.urlsplit("//" + args[args.index("--metrics-address") + 1])
    assert address.hostname == "0.0.0.0"  # reachable from the scraper, not only loopback
    ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    assert ports["metrics"] == address.port
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "metrics"
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(address.port)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_disruption_budget_keeps_one_replica() -> None:
    documents = base_documents()
    budget = find(documents, "PodDisruptionBudget")
    deployment = find(documents, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert (
        deployment["spec"]["selector"]["matchLabels"] == budget["spec"]["selector"]["matchLabels"]
    )
    assert 1 <= budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_namespaced_objects_live_in_podpatterns_system() -> None:
    for document in base_documents():
        if document["kind"] in ("ServiceAccount", "Deployment", "PodDisruptionBudget", "Service"):
            assert document["metadata"]["namespace"] == NAMESPACE, document["kind"]


# --- kustomize -----------------------------------------------------------------------------


def _key(document: dict[str, Any]) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"


def test_deploy_is_the_base() -> None:
    built = kustomize(DEPLOY)
    assert [_key(d) for d in built] == [_key(d) for d in kustomize(BASE)]
    assert sorted(_key(d) for d in built) == sorted(_key(d) for d in base_documents())


def test_the_dev_overlay_changes_image_pull_policy_and_placement_only() -> None:
    from podpatterns.devcluster import operator_image, realnode

    base = {_key(d): d for d in kustomize(DEPLOY)}
    overlay = {_key(d): d for d in kustomize(DEV_OVERLAY)}
    assert base.keys() == overlay.keys()
    for key in base:
        if key != "Deployment/podpatterns":
            assert base[key] == overlay[key], f"the dev overlay changed {key}"

    changed = copy.deepcopy(overlay["Deployment/podpatterns"])
    pod = changed["spec"]["template"]["spec"]
    assert pod.pop("nodeSelector") == {realnode.LABEL: "true"}
    assert pod.pop("tolerations") == [
        {"key": realnode.TAINT["key"], "operator": "Exists", "effect": realnode.TAINT["effect"]}
    ]
    for item in [*pod.get("initContainers", []), *pod["containers"]]:
        assert item["image"] == f"{operator_image.REPOSITORY}:{operator_image.DEV_TAG}"
        assert item["imagePullPolicy"] == "Never"
    original = copy.deepcopy(base["Deployment/podpatterns"])
    for item in [
        *original["spec"]["template"]["spec"].get("initContainers", []),
        *original["spec"]["template"]["spec"]["containers"],
    ]:
        item.pop("image"), item.pop("imagePullPolicy")
    for item in [*pod.get("initContainers", []), *pod["containers"]]:
        item.pop("image"), item.pop("imagePullPolicy")
    assert changed == original


# --- the Dockerfile ------------------------------------------------------------------------


def _dockerfile() -> str:
    # Continuation lines joined, comments dropped: one instruction per line.
    text = (REPO / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return re.sub(r"\\\n", " ", "\n".join(lines))


def _stages() -> list[list[str]]:
    stages: list[list[str]] = [[]]
    for line in _dockerfile().splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if line.strip():
            stages[-1].append(line.strip())
    return stages


def test_the_bases_are_build_arguments_pinned_by_digest() -> None:
    preamble = _stages()[0]
    args = dict(
        re.match(r"ARG (\w+)=(\S+)", line).groups()  # type: ignore[union-attr]
        for line in preamble
        if line.startswith("ARG ")
    )
    assert set(args) == {"BASE_IMAGE", "BUILD_IMAGE"}
    for value in args.values():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", value), value
    # The virtualenv is copied from one stage to the other: same Python in both.
    assert args["BASE_IMAGE"] == args["BUILD_IMAGE"]


def test_multi_stage_with_a_lean_non_root_final_stage() -> None:
    stages = _stages()[1:]
    assert len(stages) >= 2
    assert stages[0][0].startswith("FROM ${BUILD_IMAGE} AS ")
    final = stages[-1]
    assert final[0] == "FROM ${BASE_IMAGE}"
    runs = " ".join(line for line in final if line.startswith("RUN "))
    for tool in ("apt-get", "gcc", "pip install", "make "):
        assert tool not in runs, f"the final stage runs {tool}"
    assert "pip uninstall" in runs  # the public base's pip goes
    copies = [line for line in final if line.startswith(("COPY", "ADD"))]
    assert copies and all(line.startswith("COPY --from=") for line in copies)
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1])
    deployment_user = _deployment()["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert users[-1].split(":")[0] == str(deployment_user)
    entrypoint = [line for line in final if line.startswith("ENTRYPOINT ")]
    assert entrypoint and json.loads(entrypoint[-1].split(" ", 1)[1]) == ["podpatterns", "run"]


def test_the_build_stage_leaves_no_installer_in_the_virtualenv() -> None:
    build = " ".join(_stages()[1])
    assert "pip uninstall --yes setuptools pip" in build
    assert "podpatterns run --help" in build  # the installed entry point starts
