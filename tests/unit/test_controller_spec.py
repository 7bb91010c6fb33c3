"""From a PodPattern body to the reconciler's Intent or Rejection, with the real models."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import kopf

from podpatterns import render
from podpatterns.controller import pods as observed
from podpatterns.controller.handlers import STORAGE_PREFIX, NoDiffBase, build_registry
from podpatterns.controller.intent import Intent, Rejection
from podpatterns.controller.spec import interpret
from podpatterns.controller.workloads import WATCHED, index_ids
from podpatterns.render.workloads import WORKLOAD_LABEL

BODY: dict[str, Any] = {
    "apiVersion": "podpatterns.dev/v1alpha1",
    "kind": "PodPattern",
    "metadata": {"name": "web", "namespace": "shop", "uid": "pp-uid", "generation": 3},
    "spec": {
        "workload": {"replicas": 2, "rollout": {"maxSurge": 1, "maxUnavailable": "50%"}},
        "main": {"name": "app", "image": "nginx:1.27"},
        "sidecars": [{"name": "helper", "image": "busybox:1.36", "command": ["sleep", "1d"]}],
    },
}


def test_a_valid_spec_becomes_an_intent_that_renders_owned_pods() -> None:
    result = interpret(BODY, server_version=(1, 37))
    assert isinstance(result, Intent)
    assert (result.kind, result.replicas, result.max_surge, result.max_unavailable) == (
        "Pod",
        2,
        1,
        "50%",
    )
    assert result.sidecars == ("helper",)
    assert result.sidecar_mode == "Native"
    assert result.selector == "podpatterns.dev/pattern=web"
    pod = result.pod_for("web-x-0")
    assert pod["metadata"]["name"] == "web-x-0"
    assert pod["metadata"]["labels"][observed.HASH_LABEL] == result.template_hash
    (owner,) = pod["metadata"]["ownerReferences"]
    assert (owner["uid"], owner["controller"]) == ("pp-uid", True)


def test_an_old_server_gets_legacy_sidecars() -> None:
    result = interpret(BODY, server_version=(1, 28))
    assert isinstance(result, Intent) and result.sidecar_mode == "Legacy"


def test_a_semantic_error_is_a_rejection_with_the_field_path() -> None:
    body = copy.deepcopy(BODY)
    body["spec"]["sidecars"][0]["name"] = "app"
    result = interpret(body, server_version=(1, 37))
    assert isinstance(result, Rejection)
    assert "spec.sidecars[0].name" in result.message
    assert result.message.endswith("Running Pods are left as they are until the spec is fixed.")
    assert result.selector == "podpatterns.dev/pattern=web"


def test_status_never_makes_a_spec_invalid() -> None:
    body = copy.deepcopy(BODY)
    body["status"] = {"phase": "SomethingOdd", "conditions": "not a list"}
    assert isinstance(interpret(body, server_version=(1, 37)), Intent)


def test_the_controller_reads_the_labels_the_renderer_writes() -> None:
    assert observed.PATTERN_LABEL == render.PATTERN_LABEL
    assert observed.HASH_LABEL == render.HASH_LABEL
    assert observed.WORKLOAD_LABEL == WORKLOAD_LABEL


def test_the_registry_watches_without_change_handlers() -> None:
    registry = build_registry()
    # No on.create/update/resume/delete, daemons or timers: those write to the objects.
    assert registry._changing.get_all_handlers() == []
    assert registry._spawning.get_all_handlers() == []
    # PodPatterns, Pods, the workload objects and Services (controller/workloads.py), the
    # presets' ConfigMaps (controller/generated.py) and SidecarProfiles.
    assert len(registry._watching.get_all_handlers()) == 2 + len(WATCHED) + 2
    assert {h.id for h in registry._indexing.get_all_handlers()} == {
        "pattern_pods",
        "pattern_bodies",
        *index_ids(),
        "pattern_configmaps",
        "sidecar_profiles",
        "profile_users",
        "terminating_namespaces",
    }


def test_no_diff_base_is_built_and_none_is_read_back() -> None:
    # Safe only while no handler detects changes (the test above); then Kopf never reads it.
    storage = NoDiffBase(prefix=STORAGE_PREFIX, key="last-handled-configuration")
    body = kopf.Body(copy.deepcopy(BODY))
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) is None


def test_a_workload_kind_carries_its_object_and_kind_pod_none() -> None:
    body = copy.deepcopy(BODY)
    body["spec"]["workload"] = {"kind": "Deployment", "replicas": 2}
    result = interpret(body, server_version=(1, 37))
    assert isinstance(result, Intent) and result.workload is not None
    assert (result.workload.kind, result.workload.name) == ("Deployment", "web")
    labels = result.workload.object["spec"]["template"]["metadata"]["labels"]
    assert labels[render.HASH_LABEL] == result.template_hash
    pod = interpret(BODY, server_version=(1, 37))
    assert isinstance(pod, Intent) and pod.workload is None


def test_only_namespaces_being_deleted_are_indexed() -> None:
    from podpatterns.controller.handlers import terminating_namespaces

    going = asyncio.run(terminating_namespaces(name="shop", status={"phase": "Terminating"}))
    staying = asyncio.run(terminating_namespaces(name="shop", status={"phase": "Active"}))
    assert (going, staying) == ({"shop": True}, {})
