"""Parsing and semantic checks: the right field path, and messages that say what to do."""

from __future__ import annotations

import copy
import dataclasses
from types import MappingProxyType
from typing import Any

import pytest

from podpatterns.api.validation import (
    FieldError,
    InvalidPattern,
    check,
    check_profile,
    format_path,
    parse,
    parse_profile,
    validate,
)


def body(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"main": {"name": "app", "image": "nginx:1.27.2"}},
    }
    base["spec"].update(copy.deepcopy(spec))
    return base


def parse_errors(value: dict[str, Any]) -> dict[str, FieldError]:
    with pytest.raises(InvalidPattern) as raised:
        parse(value)
    return {error.path: error for error in raised.value.errors}


def check_errors(value: dict[str, Any]) -> dict[str, FieldError]:
    return {error.path: error for error in check(parse(value))}


def test_a_minimal_pattern_is_valid_and_takes_the_contract_defaults() -> None:
    pattern = validate(body())
    spec = pattern.spec
    assert spec.workload.kind == "Pod" and spec.workload.replicas == 1
    assert spec.workload.rollout.max_unavailable == "25%"
    assert spec.workload.rollout.max_surge == "25%"
    assert spec.sidecar_mode == "Auto"
    assert spec.sidecars == [] and spec.volumes == []
    assert parse(body(main={"image": "nginx:1.27.2"})).spec.main.name == "main"


def test_parsing_copies_and_accepts_read_only_mappings() -> None:
    value = body(volumes=[{"name": "v", "mountPath": "/v", "emptyDir": {}}])
    frozen = MappingProxyType({**value, "spec": MappingProxyType(value["spec"])})
    pattern = parse(frozen)
    value["spec"]["volumes"][0]["name"] = "changed"
    assert pattern.spec.volumes[0].name == "v"


def test_the_model_dumps_camel_case() -> None:
    pattern = parse(
        body(volumes=[{"name": "v", "mountPath": "/v", "readOnly": ["app"], "emptyDir": {}}])
    )
    dumped = pattern.model_dump(mode="json", exclude_none=True)
    assert dumped["apiVersion"] == "podpatterns.dev/v1alpha1"
    assert dumped["spec"]["volumes"][0]["mountPath"] == "/v"
    assert dumped["spec"]["sidecarMode"] == "Auto"


def test_status_written_by_a_newer_operator_still_parses() -> None:
    value = body()
    value["status"] = {"phase": "Ready", "replicas": 1, "somethingNew": {"a": 1}}
    assert parse(value).status is not None


def test_field_error_is_a_frozen_value() -> None:
    error = FieldError("spec.main.image", "MissingField", "image is required")
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.path = "x"  # type: ignore[misc]
    assert str(error) == "spec.main.image: image is required"


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        (["spec", "volumes", 1, "containers", 0], "spec.volumes[1].containers[0]"),
        (
            ["spec", "main", "resources", "limits", "nvidia.com/gpu"],
            "spec.main.resources.limits[nvidia.com/gpu]",
        ),
        ([], ""),
    ],
)
def test_format_path(parts: list[str | int], text: str) -> None:
    assert format_path(parts) == text


# --- parse errors --------------------------------------------------------------------------


def test_missing_image_names_the_field_and_the_container() -> None:
    errors = parse_errors(body(main={"name": "app"}))
    error = errors["spec.main.image"]
    assert error.reason == "MissingField"
    assert error.message == "main container 'app': image is required: add it"


def test_unknown_field_suggests_the_spelling() -> None:
    errors = parse_errors(body(volumes=[{"name": "logs", "mountpath": "/l", "emptyDir": {}}]))
    assert errors["spec.volumes[0].mountpath"].reason == "UnknownField"
    assert "did you mean mountPath?" in errors["spec.volumes[0].mountpath"].message
    assert "volume 'logs'" in errors["spec.volumes[0].mountpath"].message


def test_enum_errors_list_the_choices() -> None:
    errors = parse_errors(body(workload={"kind": "ReplicaSet"}))
    message = errors["spec.workload.kind"].message
    assert "'Deployment'" in message and "not 'ReplicaSet'" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, "must be quoted when it is not a whole number: write '0.5' or '500m'"),
        ("lots", "must be a quantity such as 500m, 2Gi or 1, not 'lots'"),
        (True, "not true/false"),
    ],
)
def test_quantities(value: Any, expected: str) -> None:
    errors = parse_errors(
        body(main={"name": "app", "image": "x", "resources": {"limits": {"cpu": value}}})
    )
    assert expected in errors["spec.main.resources.limits.cpu"].message


def test_quantities_accept_numbers_and_strings() -> None:
    pattern = parse(
        body(
            main={"name": "app", "image": "x", "resources": {"limits": {"cpu": 2, "memory": "1Gi"}}}
        )
    )
    assert pattern.spec.main.resources is not None
    assert pattern.spec.main.resources.limits == {"cpu": 2, "memory": "1Gi"}


@pytest.mark.parametrize("value", ["25%", "100%", 0, 3])
def test_rollout_accepts_numbers_and_percentages(value: Any) -> None:
    assert check(parse(body(workload={"rollout": {"maxUnavailable": value}}))) == []


@pytest.mark.parametrize("value", ["25", "101%", -1, 1.5])
def test_rollout_refuses_other_values(value: Any) -> None:
    errors = parse_errors(body(workload={"rollout": {"maxSurge": value}}))
    assert "spec.workload.rollout.maxSurge" in errors


def test_names_must_be_dns_labels() -> None:
    errors = parse_errors(body(sidecars=[{"name": "Log_Shipper", "image": "x"}]))
    message = errors["spec.sidecars[0].name"].message
    assert "must be a DNS label" in message and "'Log_Shipper' is not" in message


def test_type_errors_in_lists_have_indexed_paths() -> None:
    errors = parse_errors(
        body(main={"name": "app", "image": "x", "ports": [{"containerPort": "http"}]})
    )
    assert "must be a whole number" in errors["spec.main.ports[0].containerPort"].message


def test_env_values_must_be_strings() -> None:
    errors = parse_errors(
        body(main={"name": "app", "image": "x", "env": [{"name": "PORT", "value": 8080}]})
    )
    assert 'quote it, for example "8080"' in errors["spec.main.env[0].value"].message


def test_every_problem_is_reported_at_once() -> None:
    errors = parse_errors(body(main={"name": "App"}, workload={"kind": "Nope"}))
    assert {"spec.main.name", "spec.main.image", "spec.workload.kind"} <= set(errors)


def test_a_document_that_is_not_a_mapping() -> None:
    with pytest.raises(InvalidPattern, match="must be a mapping"):
        parse(["not", "a", "pattern"])  # type: ignore[arg-type]


def test_wrong_api_version() -> None:
    value = body()
    value["apiVersion"] = "podpatterns.dev/v1"
    assert "apiVersion" in parse_errors(value)


# --- rules shared with CEL ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        ({"workload": {"kind": "DaemonSet", "replicas": 2}}, "spec.workload.replicas", "remove it"),
        ({"workload": {"kind": "Job", "replicas": 2}}, "spec.workload.replicas", "job.parallelism"),
        ({"workload": {"kind": "CronJob"}}, "spec.workload.cron", "is required for kind CronJob"),
        ({"workload": {"cron": {"schedule": "@daily"}}}, "spec.workload.cron", "CronJob only"),
        ({"workload": {"job": {"backoffLimit": 1}}}, "spec.workload.job", "Job and CronJob only"),
        (
            {"workload": {"kind": "Job", "rollout": {"maxUnavailable": 1}}},
            "spec.workload.rollout",
            "does not apply to Jobs",
        ),
        (
            {"workload": {"kind": "StatefulSet", "rollout": {"maxSurge": 1}}},
            "spec.workload.rollout.maxSurge",
            "Pod and Deployment only",
        ),
        ({"sidecars": [{"name": "x"}]}, "spec.sidecars[0]", "needs a preset"),
        (
            {"sidecars": [{"name": "x", "preset": "logging", "profile": "corp"}]},
            "spec.sidecars[0].profile",
            "not both",
        ),
        (
            {"sidecars": [{"name": "x", "preset": "proxy", "gpuMonitor": {}}]},
            "spec.sidecars[0].gpuMonitor",
            "preset: gpu-monitor",
        ),
        (
            {
                "sidecars": [
                    {"name": "x", "preset": "logging", "logging": {"output": {"type": "otlp"}}}
                ]
            },
            "spec.sidecars[0].logging.output.endpoint",
            "endpoint is required",
        ),
        ({"initContainers": [{"name": "x"}]}, "spec.initContainers[0]", "needs an image"),
        (
            {"initContainers": [{"name": "x", "preset": "data-loader"}]},
            "spec.initContainers[0].dataLoader",
            "add dataLoader.image",
        ),
        (
            {"volumes": [{"name": "v", "mountPath": "/v"}]},
            "spec.volumes[0]",
            "exactly one source",
        ),
        (
            {
                "volumes": [
                    {
                        "name": "v",
                        "mountPath": "/v",
                        "emptyDir": {},
                        "containers": ["app"],
                        "readOnly": ["other"],
                    }
                ]
            },
            "spec.volumes[0].readOnly",
            "must also be in containers",
        ),
        (
            {
                "volumes": [
                    {
                        "name": "v",
                        "mountPath": "/v",
                        "claimTemplate": {"resources": {"requests": {"storage": "1Gi"}}},
                    }
                ]
            },
            "spec.volumes",
            "StatefulSet",
        ),
        ({"pod": {"hostPID": True}}, "spec.pod.hostPID", "process namespace"),
        ({"pod": {"hostIPC": True}}, "spec.pod.hostIPC", "IPC namespace"),
        ({"pod": {"dnsPolicy": "None"}}, "spec.pod.dnsConfig", "add dnsConfig"),
        (
            {
                "main": {
                    "name": "app",
                    "image": "x",
                    "env": [{"name": "A", "value": "1", "valueFrom": {}}],
                }
            },
            "spec.main.env[0].valueFrom",
            "not both",
        ),
    ],
)
def test_cross_field_rules(spec: dict[str, Any], path: str, words: str) -> None:
    errors = check_errors(body(**spec))
    assert path in errors, f"expected an error at {path}, got {list(errors)}"
    assert words in errors[path].message


def test_claim_templates_are_fine_for_statefulsets() -> None:
    volume = {
        "name": "v",
        "mountPath": "/v",
        "claimTemplate": {"resources": {"requests": {"storage": "1Gi"}}},
    }
    assert check(parse(body(workload={"kind": "StatefulSet"}, volumes=[volume]))) == []


# --- semantic checks ----------------------------------------------------------------------


def test_undefined_container_in_a_volume() -> None:
    errors = check_errors(
        body(
            volumes=[
                {"name": "logs", "mountPath": "/l", "containers": ["app", "ap"], "emptyDir": {}}
            ]
        )
    )
    error = errors["spec.volumes[0].containers[1]"]
    assert error.reason == "UndefinedContainer"
    assert error.message == (
        "volume 'logs': containers names container 'ap', which this PodPattern does not have "
        "(it has app): fix the name or remove it"
    )


def test_undefined_volume_in_a_mount_and_a_data_loader() -> None:
    errors = check_errors(
        body(
            main={
                "name": "app",
                "image": "x",
                "volumeMounts": [{"name": "cache", "mountPath": "/c"}],
            },
            initContainers=[
                {
                    "name": "load",
                    "preset": "data-loader",
                    "dataLoader": {"image": "curl:8", "volume": "models"},
                }
            ],
        )
    )
    assert errors["spec.main.volumeMounts[0].name"].reason == "UndefinedVolume"
    assert errors["spec.initContainers[0].dataLoader.volume"].reason == "UndefinedVolume"
    assert "add it to spec.volumes" in errors["spec.main.volumeMounts[0].name"].message


def test_duplicate_names() -> None:
    errors = check_errors(
        body(
            sidecars=[{"name": "app", "image": "x"}],
            volumes=[
                {"name": "v", "mountPath": "/a", "emptyDir": {}},
                {"name": "v", "mountPath": "/b", "emptyDir": {}},
            ],
        )
    )
    assert errors["spec.sidecars[0].name"].reason == "DuplicateName"
    assert "already used by the main container" in errors["spec.sidecars[0].name"].message
    assert errors["spec.volumes[1].name"].reason == "DuplicateName"


def test_port_conflicts_across_containers_but_not_protocols() -> None:
    errors = check_errors(
        body(
            main={
                "name": "app",
                "image": "x",
                "ports": [{"containerPort": 53}, {"containerPort": 53, "protocol": "UDP"}],
            },
            sidecars=[
                {"name": "dns", "image": "y", "ports": [{"containerPort": 53, "protocol": "UDP"}]}
            ],
        )
    )
    assert list(errors) == ["spec.sidecars[0].ports[0].containerPort"]
    error = errors["spec.sidecars[0].ports[0].containerPort"]
    assert error.reason == "PortConflict"
    assert "port 53/UDP is already used by container 'app'" in error.message


def test_mount_path_conflicts_count_trailing_slashes() -> None:
    errors = check_errors(
        body(
            main={
                "name": "app",
                "image": "x",
                "volumeMounts": [{"name": "a", "mountPath": "/data/"}],
            },
            volumes=[{"name": "a", "mountPath": "/data", "emptyDir": {}}],
        )
    )
    assert errors["spec.volumes[0].mountPath"].reason == "MountPathConflict"


def test_mount_paths_may_repeat_across_containers() -> None:
    spec = {
        "sidecars": [{"name": "side", "image": "y"}],
        "volumes": [
            {"name": "a", "mountPath": "/data", "containers": ["app"], "emptyDir": {}},
            {"name": "b", "mountPath": "/data", "containers": ["side"], "emptyDir": {}},
        ],
    }
    assert check(parse(body(**spec))) == []


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        (
            {"main": {"name": "app", "image": "x", "securityContext": {"privileged": True}}},
            "spec.main.securityContext.privileged",
        ),
        (
            {
                "initContainers": [
                    {
                        "name": "i",
                        "image": "x",
                        "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}},
                    }
                ]
            },
            "spec.initContainers[0].securityContext.capabilities.add",
        ),
        (
            {"volumes": [{"name": "h", "mountPath": "/h", "hostPath": {"path": "/"}}]},
            "spec.volumes[0].hostPath",
        ),
        ({"pod": {"hostNetwork": True}}, "spec.pod.hostNetwork"),
    ],
)
def test_privileges_only_through_profiles(spec: dict[str, Any], path: str) -> None:
    errors = check_errors(body(**spec))
    assert errors[path].reason == "PrivilegeNotAllowed"


def test_dropping_capabilities_is_fine() -> None:
    spec = {
        "main": {
            "name": "app",
            "image": "x",
            "securityContext": {"capabilities": {"drop": ["ALL"]}, "privileged": False},
        }
    }
    assert check(parse(body(**spec))) == []


def test_gpu_monitor_needs_a_gpu() -> None:
    sidecars = [{"name": "gpu", "preset": "gpu-monitor"}]
    errors = check_errors(body(sidecars=sidecars))
    assert errors["spec.main.resources.limits"].reason == "GPURequestMissing"
    with_gpu = {"name": "app", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}
    assert check(parse(body(main=with_gpu, sidecars=sidecars))) == []


def test_reserved_and_invalid_labels() -> None:
    errors = check_errors(
        body(
            pod={
                "labels": {"podpatterns.dev/pattern": "x", "ok": "has space"},
                "annotations": {"podpatterns.dev/x": "y"},
            }
        )
    )
    assert errors["spec.pod.labels[podpatterns.dev/pattern]"].reason == "ReservedKey"
    assert errors["spec.pod.annotations[podpatterns.dev/x]"].reason == "ReservedKey"
    assert errors["spec.pod.labels.ok"].reason == "InvalidLabel"


def test_a_service_needs_a_port() -> None:
    errors = check_errors(body(service={"type": "ClusterIP"}))
    assert "add a port to spec.main.ports" in errors["spec.service"].message
    # The proxy is the target; it forwards to a port the main container listens on
    # without declaring it.
    proxy = {"name": "edge", "preset": "proxy", "proxy": {"targetPort": 8000}}
    assert check(parse(body(service={}, sidecars=[proxy]))) == []


def test_rollout_must_be_able_to_progress() -> None:
    errors = check_errors(body(workload={"rollout": {"maxUnavailable": 0, "maxSurge": "0%"}}))
    assert "both 0" in errors["spec.workload.rollout"].message


def test_cron_schedules() -> None:
    errors = check_errors(body(workload={"kind": "CronJob", "cron": {"schedule": "every day"}}))
    assert "five fields" in errors["spec.workload.cron.schedule"].message
    assert check(parse(body(workload={"kind": "CronJob", "cron": {"schedule": "@hourly"}}))) == []


def test_names_are_checked_for_what_they_become() -> None:
    value = body()
    value["metadata"]["name"] = "Web.Shop"
    assert "DNS-1035" in check_errors(value)["metadata.name"].message
    value["metadata"]["name"] = "a" * 60
    assert check_errors(value) == {}
    value["spec"]["workload"] = {"kind": "CronJob", "cron": {"schedule": "@daily"}}
    assert "at most 52" in check_errors(value)["metadata.name"].message
    del value["metadata"]["name"]
    assert check_errors(value)["metadata.name"].reason == "MissingField"


def test_missing_profiles_only_when_profiles_are_known() -> None:
    pattern = parse(body(sidecars=[{"name": "audit", "profile": "corp-audit"}]))
    assert check(pattern) == []
    errors = check(pattern, profiles={})
    assert [error.reason for error in errors] == ["ProfileNotFound"]
    assert errors[0].path == "spec.sidecars[0].profile"


def test_validate_raises_with_every_error() -> None:
    with pytest.raises(InvalidPattern) as raised:
        validate(
            body(sidecars=[{"name": "app", "image": "x", "securityContext": {"privileged": True}}])
        )
    reasons = {error.reason for error in raised.value.errors}
    assert reasons == {"DuplicateName", "PrivilegeNotAllowed"}
    assert "spec.sidecars[0].name: " in str(raised.value)


# --- SidecarProfile ------------------------------------------------------------------------


def profile(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "SidecarProfile",
        "metadata": {"name": "corp-audit"},
        "spec": spec,
    }


def test_profiles_grant_privileges_only_through_allow() -> None:
    spec = {
        "container": {
            "image": "dcgm:3",
            "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
        },
        "volumes": [{"name": "sock", "mountPath": "/run/x", "hostPath": {"path": "/run/x"}}],
    }
    errors = {error.path: error for error in check_profile(parse_profile(profile(**spec)))}
    assert set(errors) == {"spec.container", "spec.volumes"}
    assert all(error.reason == "PrivilegeNotAllowed" for error in errors.values())
    allowed = {
        **spec,
        "allow": {"privileged": True, "hostPath": True, "capabilities": ["SYS_ADMIN"]},
    }
    assert check_profile(parse_profile(profile(**allowed))) == []


def test_a_profile_needs_a_preset_or_an_image() -> None:
    errors = check_profile(parse_profile(profile()))
    assert [error.path for error in errors] == ["spec"]
    assert (
        check_profile(parse_profile(profile(preset="logging", logging={"agent": "fluent-bit"})))
        == []
    )


# --- Kubernetes' field rules, as the API server applies them ------------------------------
# tests/cluster/test_rule_parity.py proves each of these against the API server.


def errors_of(value: dict[str, Any]) -> dict[str, FieldError]:
    """Every error, from parsing or from the checks, by path."""
    try:
        pattern = parse(value)
    except InvalidPattern as invalid:
        return {error.path: error for error in invalid.errors}
    return {error.path: error for error in check(pattern)}


def main_with(**fields: Any) -> dict[str, Any]:
    return body(main={"name": "app", "image": "nginx:1.27.2", **fields})


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"metadata": {"name": "web\n"}}, "metadata.name"),
        ({"spec": {"main": {"image": "nginx", "ports": [{"name": "http\n", "containerPort": 80}]}}},
         "spec.main.ports[0].name"),
    ],
)
def test_patterns_match_the_whole_string(value: dict[str, Any], path: str) -> None:
    pattern = body()
    pattern["metadata"].update(value.get("metadata", {}))
    pattern["spec"].update(value.get("spec", {}))
    assert path in errors_of(pattern)


def test_quantities_and_percentages_match_the_whole_string() -> None:
    limits = {"limits": {"cpu": "1\n"}}
    assert "spec.main.resources.limits.cpu" in errors_of(main_with(resources=limits))
    rollout = {"kind": "Deployment", "rollout": {"maxSurge": "25%\n"}}
    assert "spec.workload.rollout.maxSurge" in errors_of(body(workload=rollout))


@pytest.mark.parametrize(
    ("name", "valid"),
    [("A=B", False), ("Ä", False), ("A\tB", False), ("", False), ("A B", True),
     ("1A", True), ("a.b-c", True)],
)
def test_env_names_are_printable_ascii_without_equals(name: str, valid: bool) -> None:
    errors = errors_of(main_with(env=[{"name": name, "value": "x"}]))
    assert ("spec.main.env[0].name" not in errors) is valid, errors


@pytest.mark.parametrize(("image", "valid"), [(" nginx", False), ("nginx\n", False),
                                              ("", False), ("nginx:1.27", True)])
def test_images_have_no_surrounding_whitespace(image: str, valid: bool) -> None:
    errors = errors_of(main_with(image=image))
    assert ("spec.main.image" not in errors) is valid, errors


@pytest.mark.parametrize(
    ("resources", "path", "words"),
    [
        ({"requests": {"cpu": "-1"}}, "spec.main.resources.requests.cpu", "negative"),
        ({"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}},
         "spec.main.resources.requests.memory", "more than limits[memory]"),
        ({"limits": {"nvidia.com/gpu": "500m"}},
         "spec.main.resources.limits[nvidia.com/gpu]", "whole number"),
        ({"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}},
         "spec.main.resources.requests[nvidia.com/gpu]", "must equal"),
        ({"requests": {"nvidia.com/gpu": 1}}, "spec.main.resources.limits", "same amount"),
        ({"limits": {"gpu": 1}}, "spec.main.resources.limits.gpu", "not a container resource"),
        ({"limits": {"hugepages-2Mi": "2Mi"}}, "spec.main.resources", "cpu or memory"),
        ({"limits": {"hugepages-2Mi": "3Mi", "memory": "1Gi"}},
         "spec.main.resources.limits[hugepages-2Mi]", "page size"),
        ({"limits": {"cpu": "1e1.5"}}, "spec.main.resources.limits.cpu", "quantity"),
    ],
)
def test_resources_follow_kubernetes(resources: dict[str, Any], path: str, words: str) -> None:
    errors = errors_of(main_with(resources=resources))
    assert words in errors[path].message, errors


@pytest.mark.parametrize(
    "resources",
    [
        {"requests": {"cpu": "1"}, "limits": {"cpu": "1000m"}},
        {"requests": {"cpu": "500m"}, "limits": {"cpu": 1}},
        {"limits": {"nvidia.com/gpu": 1}},
        {"limits": {"hugepages-2Mi": "4Mi", "memory": "1Gi"}},
        {"limits": {"memory": "1e9", "example.com/dongle": "2"}},
    ],
)
def test_resources_kubernetes_accepts(resources: dict[str, Any]) -> None:
    assert errors_of(main_with(resources=resources)) == {}


@pytest.mark.parametrize(("name", "valid"), [("8080", False), ("a--b", False), ("-a", False),
                                             ("abcdefghijklmnop", False), ("h2c-1", True),
                                             ("1a", True), ("http", True)])
def test_port_names_are_iana_service_names(name: str, valid: bool) -> None:
    errors = errors_of(main_with(ports=[{"name": name, "containerPort": 80}]))
    assert ("spec.main.ports[0].name" not in errors) is valid, errors


@pytest.mark.parametrize(
    ("mount", "field"),
    [
        ({"subPath": "/etc"}, "subPath"),
        ({"subPath": "a/../.."}, "subPath"),
        ({"subPathExpr": "/x"}, "subPathExpr"),
        ({"subPathExpr": "$(HOME)/.."}, "subPathExpr"),
        ({"subPath": "a", "subPathExpr": "b"}, "subPathExpr"),
        ({"mountPropagation": "Bidirectional"}, "mountPropagation"),
        ({"recursiveReadOnly": "Enabled"}, "recursiveReadOnly"),
        ({"recursiveReadOnly": "IfPossible"}, "recursiveReadOnly"),
        ({"recursiveReadOnly": "Enabled", "readOnly": True,
          "mountPropagation": "HostToContainer"}, "recursiveReadOnly"),
    ],
)
def test_mount_rules(mount: dict[str, Any], field: str) -> None:
    value = main_with(volumeMounts=[{"name": "data", "mountPath": "/extra", **mount}])
    value["spec"]["volumes"] = [{"name": "data", "mountPath": "/data", "emptyDir": {}}]
    assert f"spec.main.volumeMounts[0].{field}" in errors_of(value)


def test_mounts_kubernetes_accepts() -> None:
    mounts = [
        {"name": "data", "mountPath": "/a", "subPath": "a/..b"},
        {"name": "data", "mountPath": "/b", "recursiveReadOnly": "Enabled", "readOnly": True},
        {"name": "data", "mountPath": "/c", "mountPropagation": "HostToContainer"},
    ]
    value = main_with(volumeMounts=mounts)
    value["spec"]["volumes"] = [{"name": "data", "mountPath": "/data", "emptyDir": {}}]
    assert errors_of(value) == {}


def test_bidirectional_propagation_is_for_privileged_profile_sidecars() -> None:
    mount = {"name": "data", "mountPath": "/x", "mountPropagation": "Bidirectional"}
    value = body(
        sidecars=[{"name": "agent", "profile": "agent", "volumeMounts": [mount]}],
        volumes=[{"name": "data", "mountPath": "/data", "emptyDir": {}}],
    )
    # Offline, without the profile, it may be privileged: the benefit of the doubt.
    assert errors_of(value) == {}
    unprivileged = parse_profile({
        "apiVersion": "podpatterns.dev/v1alpha1", "kind": "SidecarProfile",
        "metadata": {"name": "agent"}, "spec": {"container": {"image": "agent:1"}},
    })
    errors = {e.path: e for e in check(parse(value), {"agent": unprivileged})}
    assert "spec.sidecars[0].volumeMounts[0].mountPropagation" in errors


def test_config_map_items_stay_inside_the_volume() -> None:
    volume = {"name": "conf", "mountPath": "/conf",
              "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}}
    assert "spec.volumes[0].configMap.items[0].path" in errors_of(body(volumes=[volume]))


@pytest.mark.parametrize(
    ("toleration", "field"),
    [
        ({"key": "a", "operator": "Exists", "value": "b"}, "value"),
        ({"value": "x"}, "operator"),
        ({"key": "a", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5},
         "effect"),
        ({"key": "a b", "operator": "Exists"}, "key"),
        ({"key": "a", "value": "x y"}, "value"),
    ],
)
def test_tolerations_kubernetes_refuses(toleration: dict[str, Any], field: str) -> None:
    errors = errors_of(body(pod={"tolerations": [toleration]}))
    assert f"spec.pod.tolerations[0].{field}" in errors, errors


def test_tolerations_kubernetes_accepts() -> None:
    tolerations = [
        {"operator": "Exists"},
        {"key": "example.com/a", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5},
        {"key": "a", "value": "b", "effect": "NoSchedule"},
    ]
    assert errors_of(body(pod={"tolerations": tolerations})) == {}


def cron(**settings: Any) -> dict[str, Any]:
    return body(workload={"kind": "CronJob", "cron": {"schedule": "0 0 * * *", **settings}})


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        ("99 99 99 99 99", False), ("@every 5m", True), ("@every 1h30m", True),
        ("@every 5", False), ("0 0 * JAN-MAR mon-fri", True), ("0 0 ? * *", True),
        ("CRON_TZ=UTC 0 0 * * *", False), ("0 0 0 * * *", False), ("@hourly ", False),
        ("*/0 * * * *", False), ("0 0 * * 7", False), ("5-1 * * * *", False),
        ("*/15 1-5,7 1 * *", True), ("@weekly", True), ("@fortnightly", False),
    ],
)
def test_cron_schedules_as_the_api_server_parses_them(schedule: str, valid: bool) -> None:
    errors = errors_of(cron(schedule=schedule))
    assert ("spec.workload.cron.schedule" not in errors) is valid, errors


@pytest.mark.parametrize(
    ("zone", "valid"),
    [("Mars/Olympus", False), ("UTC", True), ("Local", False), ("Etc/GMT+5", True),
     ("Europe/Berlin", True), ("europe/berlin", False), ("", False), ("../etc/passwd", False)],
)
def test_time_zones_come_from_the_iana_database(zone: str, valid: bool) -> None:
    errors = errors_of(cron(timeZone=zone))
    assert ("spec.workload.cron.timeZone" not in errors) is valid, errors


@pytest.mark.parametrize("field", ["livenessProbe", "readinessProbe", "startupProbe", "lifecycle"])
def test_init_containers_take_no_probes_or_hooks(field: str) -> None:
    block = {"preStop": {"exec": {"command": ["true"]}}} if field == "lifecycle" else {
        "exec": {"command": ["true"]}}
    value = body(initContainers=[{"name": "init", "image": "busybox:1", field: block}])
    assert f"spec.initContainers[0].{field}" in errors_of(value)
    sidecar = body(sidecars=[{"name": "side", "image": "busybox:1", field: block}])
    assert errors_of(sidecar) == {}


@pytest.mark.parametrize(
    ("context", "path"),
    [
        ({"appArmorProfile": {}}, "appArmorProfile.type"),
        ({"appArmorProfile": {"type": "Localhost"}}, "appArmorProfile.localhostProfile"),
        ({"appArmorProfile": {"type": "RuntimeDefault", "localhostProfile": "x"}},
         "appArmorProfile.localhostProfile"),
        ({"seLinuxOptions": {"usr": "x"}}, "seLinuxOptions.usr"),
        ({"seccompProfile": {"type": "Localhost"}}, "seccompProfile.localhostProfile"),
        ({"seccompProfile": {"type": "X"}}, "seccompProfile.type"),
        ({"seccompProfile": {"type": "Localhost", "localhostProfile": "/x.json"}},
         "seccompProfile.localhostProfile"),
        ({"windowsOptions": {"hostProcess": True}}, "windowsOptions.hostProcess"),
        ({"runAsUser": 2**31}, "runAsUser"),
    ],
)
def test_security_profiles_are_typed(context: dict[str, Any], path: str) -> None:
    assert f"spec.main.securityContext.{path}" in errors_of(main_with(securityContext=context))
    pod = errors_of(body(pod={"securityContext": context}))
    assert f"spec.pod.securityContext.{path}" in pod


def test_security_profiles_kubernetes_accepts() -> None:
    context = {
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/audit.json"},
        "appArmorProfile": {"type": "RuntimeDefault"},
        "seLinuxOptions": {"level": "s0:c1,c2"},
    }
    assert errors_of(main_with(securityContext=context)) == {}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("replicas", "3"),
        ("replicas", 2**31),
        ("replicas", True),
    ],
)
def test_types_are_strict_and_bounded_like_the_crd(path: str, value: Any) -> None:
    assert "spec.workload.replicas" in errors_of(body(workload={path: value}))


def test_whole_floats_are_integers_as_kubectl_sends_them() -> None:
    assert parse(body(workload={"replicas": 3.0})).spec.workload.replicas == 3
    assert "spec.main.securityContext.runAsNonRoot" in errors_of(
        main_with(securityContext={"runAsNonRoot": "true"}))


def test_unknown_fields_are_refused_at_any_depth() -> None:
    value = body()
    value["specc"] = {}
    value["metadata"]["nmae"] = "x"
    value["spec"]["main"]["livenessProbe"] = {"httpGet": {"pth": "/", "port": 80}}
    errors = errors_of(value)
    assert "did you mean spec?" in errors["specc"].message
    assert "did you mean name?" in errors["metadata.nmae"].message
    value = body()
    value["spec"]["main"]["livenessProbe"] = {"httpGet": {"pth": "/", "port": 80}}
    assert "did you mean path?" in errors_of(value)["spec.main.livenessProbe.httpGet.pth"].message


def test_probes_need_exactly_one_handler() -> None:
    assert "spec.main.readinessProbe" in errors_of(main_with(readinessProbe={"periodSeconds": 5}))


def test_api_version_and_kind_are_required() -> None:
    value = body()
    del value["apiVersion"]
    assert errors_of(value)["apiVersion"].reason == "MissingField"
    value = body()
    value["kind"] = "Pod"
    assert "kind" in errors_of(value)


def test_null_lists_mean_not_set() -> None:
    assert parse(body(sidecars=None, volumes=None)).spec.sidecars == []


def test_objects_the_api_server_cannot_store_are_refused() -> None:
    value = main_with(env=[{"name": "BIG", "value": "x" * 2_000_000}])
    assert errors_of(value)["spec"].reason == "TooLarge"


@pytest.mark.parametrize("spelling", ["/data/", "//data", "/data/./", "/data/../data"])
def test_one_mount_path_in_two_spellings_is_a_conflict(spelling: str) -> None:
    value = main_with(volumeMounts=[{"name": "data", "mountPath": spelling}])
    value["spec"]["volumes"] = [{"name": "data", "mountPath": "/data", "emptyDir": {}}]
    assert errors_of(value)["spec.volumes[0].mountPath"].reason == "MountPathConflict"


def test_the_objects_own_labels_and_annotations() -> None:
    value = body()
    value["metadata"]["labels"] = {"a b": "x", "ok": "x y"}
    value["metadata"]["annotations"] = {"-a": "anything at all"}
    errors = errors_of(value)
    assert {"metadata.labels[a b]", "metadata.labels.ok", "metadata.annotations[-a]"} <= set(errors)


@pytest.mark.parametrize(
    ("pod", "path"),
    [
        ({"hostAliases": [{"ip": "x", "hostnames": ["a"]}]}, "spec.pod.hostAliases[0].ip"),
        ({"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["A_B"]}]},
         "spec.pod.hostAliases[0].hostnames[0]"),
        ({"dnsConfig": {"nameservers": ["x"]}}, "spec.pod.dnsConfig.nameservers[0]"),
        ({"nodeSelector": {"a b": "x"}}, "spec.pod.nodeSelector[a b]"),
        ({"nodeSelector": {"a": "x y"}}, "spec.pod.nodeSelector.a"),
        ({"securityContext": {"sysctls": [{"name": "a b", "value": "1"}]}},
         "spec.pod.securityContext.sysctls[0].name"),
    ],
)
def test_pod_settings_kubernetes_refuses(pod: dict[str, Any], path: str) -> None:
    assert path in errors_of(body(pod=pod))


@pytest.mark.parametrize(
    ("probe", "path"),
    [
        ({"exec": {"command": ["true"]}, "periodSeconds": -1}, "readinessProbe.periodSeconds"),
        ({"httpGet": {"port": 0}}, "readinessProbe.httpGet.port"),
        ({"httpGet": {"port": "a--b"}}, "readinessProbe.httpGet.port"),
        ({"tcpSocket": {"port": 70000}}, "readinessProbe.tcpSocket.port"),
        ({"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}, "readinessProbe"),
    ],
)
def test_probe_details(probe: dict[str, Any], path: str) -> None:
    assert f"spec.main.{path}" in errors_of(main_with(readinessProbe=probe))


def test_liveness_and_startup_probes_succeed_once() -> None:
    probe = {"exec": {"command": ["true"]}, "successThreshold": 2}
    assert "spec.main.livenessProbe.successThreshold" in errors_of(main_with(livenessProbe=probe))
    assert errors_of(main_with(readinessProbe=probe)) == {}


@pytest.mark.parametrize(("search", "valid"), [("A_B", False), ("_a.b.", True),
                                               ("a_b.c_", False), ("svc.cluster.local", True)])
def test_dns_search_domains(search: str, valid: bool) -> None:
    errors = errors_of(body(pod={"dnsConfig": {"searches": [search]}}))
    assert ("spec.pod.dnsConfig.searches[0]" not in errors) is valid, errors


@pytest.mark.parametrize(("user", "valid"), [("a|b", False), ("a\\b\\c", False), ("\\u", False),
                                             ("", False), ("u" * 105, False),
                                             ("dom\\user", True), ("u" * 104, True)])
def test_windows_user_names(user: str, valid: bool) -> None:
    errors = errors_of(main_with(securityContext={"windowsOptions": {"runAsUserName": user}}))
    path = "spec.main.securityContext.windowsOptions.runAsUserName"
    assert (path not in errors) is valid, errors


def test_service_annotation_keys() -> None:
    value = main_with(ports=[{"containerPort": 80}])
    value["spec"]["service"] = {"annotations": {"a b": "x", "example.com/ok": "y"}}
    assert set(errors_of(value)) == {"spec.service.annotations[a b]"}
