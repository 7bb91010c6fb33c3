"""The generated CRDs: structural, described, and the same as the committed files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podpatterns.api import crd
from podpatterns.api.schema import SchemaError, structural_schema, undescribed_properties, walk
from podpatterns.api.v1alpha1 import PodPattern, PodPatternSpec, Workload
from podpatterns.api.v1alpha1.base import SpecModel

CRDS = Path(__file__).resolve().parents[2] / "crds"
PODPATTERNS = "podpatterns.dev_podpatterns.yaml"
PROFILES = "podpatterns.dev_sidecarprofiles.yaml"
INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = crd.render_crds()[name]["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"
    ]
    return schema


def _node(schema: dict[str, Any], path: str) -> dict[str, Any]:
    for found, node in walk(schema):
        if found == path:
            return node
    raise AssertionError(f"{path} is not in the schema")


ALL = pytest.mark.parametrize("name", [PODPATTERNS, PROFILES])


def test_committed_crds_are_up_to_date() -> None:
    for name, definition in crd.render_crds().items():
        path = CRDS / name
        assert path.exists(), f"{path} is missing: run `make crds`"
        assert path.read_text(encoding="utf-8") == crd.to_yaml(definition), (
            f"{path} is stale: the models changed since it was generated; run `make crds` "
            "and commit the result"
        )
    extra = {path.name for path in CRDS.glob("*.yaml")} - set(crd.render_crds())
    assert not extra, f"crds/ holds files no model generates: {sorted(extra)}; delete them"


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = [path.read_text() for path in crd.generate(tmp_path / "a")]
    second = [path.read_text() for path in crd.generate(tmp_path / "b")]
    assert first == second


def test_generation_does_not_depend_on_the_hash_seed() -> None:
    # A set iterated while generating keeps its order within one process, and changes it
    # between processes: only separate processes with different seeds show it.
    def generated(seed: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "podpatterns", "crd", "--output-dir", "-"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=60,
        ).stdout

    first = generated("1")
    assert "kind: CustomResourceDefinition" in first
    assert generated("2") == first


@ALL
def test_schema_is_structural(name: str) -> None:
    schema = _schema(name)
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text
    for path, node in walk(schema):
        assert "title" not in node, path
        assert "nullable" not in node, path
        assert node.get("additionalProperties") not in (True, False), path
        assert "oneOf" not in node and "allOf" not in node, path
        if "anyOf" in node:
            # The only union a structural schema may have: int-or-string.
            assert node.get("x-kubernetes-int-or-string") is True, path
            assert node["anyOf"] == INT_OR_STRING_ANY_OF, path
        typed = "type" in node
        special = node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields"
        )
        assert typed or special, f"{path} has no type"
        if node.get("type") == "object" and path != ".metadata":
            assert (
                "properties" in node
                or "additionalProperties" in node
                or node.get("x-kubernetes-preserve-unknown-fields")
            ), f"{path}: an object without fields would be pruned empty"


@ALL
def test_every_property_is_described(name: str) -> None:
    # The API server forbids a description on metadata itself; everything else has one,
    # so `kubectl explain` always has something to say.
    assert undescribed_properties(_schema(name)) == [".metadata"]


def test_metadata_restricts_only_the_name() -> None:
    metadata = _schema(PODPATTERNS)["properties"]["metadata"]
    assert set(metadata) == {"type", "properties"}
    assert set(metadata["properties"]) == {"name"}
    assert metadata["properties"]["name"]["maxLength"] == 63


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        (".spec.sidecars", ["name"]),
        (".spec.initContainers", ["name"]),
        (".spec.volumes", ["name"]),
        (".spec.main.ports", ["containerPort", "protocol"]),
        (".spec.sidecars[].ports", ["containerPort", "protocol"]),
        (".spec.main.env", ["name"]),
        (".spec.initContainers[].env", ["name"]),
        (".spec.main.volumeMounts", ["mountPath"]),
        (".status.conditions", ["type"]),
        (".status.sidecars", ["name"]),
    ],
)
def test_list_maps(path: str, keys: list[str]) -> None:
    node = _node(_schema(PODPATTERNS), path)
    assert node["x-kubernetes-list-type"] == "map"
    assert node["x-kubernetes-list-map-keys"] == keys
    item = node["items"]
    for key in keys:
        # The API server requires map keys to be required or defaulted.
        assert key in item.get("required", []) or "default" in item["properties"][key], key


def test_sets_of_names() -> None:
    schema = _schema(PODPATTERNS)
    for path in (".spec.volumes[].containers", ".spec.volumes[].readOnly"):
        node = _node(schema, path)
        assert node["x-kubernetes-list-type"] == "set"
        assert node["maxItems"] and node["items"]["maxLength"] == 63


@pytest.mark.parametrize(
    "path",
    [
        ".spec.workload.rollout.maxUnavailable",
        ".spec.workload.rollout.maxSurge",
        ".spec.main.resources.limits{}",
        ".spec.volumes[].emptyDir.sizeLimit",
        ".spec.volumes[].claimTemplate.resources.requests.storage",
    ],
)
def test_int_or_string(path: str) -> None:
    node = _node(_schema(PODPATTERNS), path)
    assert node["x-kubernetes-int-or-string"] is True
    assert "type" not in node
    assert "pattern" in node


def test_free_form_fields_are_preserved_and_described() -> None:
    schema = _schema(PODPATTERNS)
    for path in (".spec.main.livenessProbe", ".spec.main.env[].valueFrom", ".spec.pod.affinity"):
        node = _node(schema, path)
        assert node["x-kubernetes-preserve-unknown-fields"] is True
        assert node["type"] == "object"
        assert node["description"]


@ALL
def test_integers_carry_the_api_servers_bounds(name: str) -> None:
    """int32 fields have their maximum; no bound sits at int64's edge, which the API server
    reads as a float and then refuses every object with the field set."""
    schema = _schema(name)
    for path, node in walk(schema):
        if node.get("type") == "integer":
            for bound in ("minimum", "maximum"):
                assert abs(node.get(bound, 0)) < 2**63 - 1, (path, node)
    if name == PODPATTERNS:
        assert _node(schema, ".spec.workload.replicas")["maximum"] == 2**31 - 1
        assert _node(schema, ".spec.main.securityContext.runAsUser")["maximum"] == 2**31 - 1


def test_security_profiles_are_typed() -> None:
    schema = _schema(PODPATTERNS)
    for base in (".spec.main.securityContext", ".spec.pod.securityContext",
                 ".spec.initContainers[].securityContext"):
        seccomp = _node(schema, f"{base}.seccompProfile")
        assert seccomp["required"] == ["type"]
        types = ["RuntimeDefault", "Unconfined", "Localhost"]
        assert seccomp["properties"]["type"]["enum"] == types
        assert seccomp["x-kubernetes-validations"]
        assert set(_node(schema, f"{base}.seLinuxOptions")["properties"]) == {
            "user", "role", "type", "level"}
        assert "x-kubernetes-preserve-unknown-fields" not in _node(
            schema, f"{base}.appArmorProfile")


def test_only_deliberate_defaults() -> None:
    defaults = {
        path: node["default"] for path, node in walk(_schema(PODPATTERNS)) if "default" in node
    }
    assert defaults == {
        ".spec.main.ports[].protocol": "TCP",
        ".spec.sidecars[].ports[].protocol": "TCP",
        ".spec.initContainers[].ports[].protocol": "TCP",
        ".spec.sidecarMode": "Auto",
        ".spec.workload": {"kind": "Pod"},
        ".spec.workload.kind": "Pod",
    }
    # They agree with the models, which apply the same defaults to files the CLI reads.
    assert PodPatternSpec.model_fields["sidecar_mode"].default == "Auto"
    assert Workload().kind == "Pod"


def test_cel_rules_are_well_formed() -> None:
    for name in (PODPATTERNS, PROFILES):
        for path, node in walk(_schema(name)):
            for rule in node.get("x-kubernetes-validations", []):
                assert rule["rule"] and rule["message"], path
                assert rule["reason"] in (
                    "FieldValueInvalid",
                    "FieldValueForbidden",
                    "FieldValueRequired",
                    "FieldValueDuplicate",
                ), path
                if "fieldPath" in rule:
                    target = node
                    for part in rule["fieldPath"].lstrip(".").split("."):
                        target = target["properties"][part]
                # The API server estimates a rule's cost from the bounds of what it iterates.
                for listed in re.findall(
                    r"self\.(\w+)\.(?:all|exists|exists_one|map|filter)\(", rule["rule"]
                ):
                    iterated = node["properties"][listed]
                    assert "maxItems" in iterated, f"{path}.{listed} needs maxItems for CEL"
                for member in re.findall(r"in self\.(\w+)\)", rule["rule"]):
                    assert "maxItems" in node["properties"][member], f"{path}.{member}"
                # A misspelt field is not an error to the API server: has(self.imag) is
                # simply false. Every field a rule reads must be one the schema has.
                for field in re.findall(r"\bself\.(\w+)\b(?!\s*\()", rule["rule"]):
                    assert field in node.get("properties", {}), (
                        f"{path}: the rule {rule['rule']!r} reads self.{field}, which the "
                        "schema does not have"
                    )


def test_crd_metadata() -> None:
    definition = crd.render_crds()[PODPATTERNS]
    spec = definition["spec"]
    assert definition["metadata"]["name"] == "podpatterns.podpatterns.dev"
    assert spec["group"] == "podpatterns.dev" and spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["pp"]
    assert spec["names"]["categories"] == ["podpatterns"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.workload.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    columns = {column["name"]: column["jsonPath"] for column in version["additionalPrinterColumns"]}
    assert columns["Kind"] == ".spec.workload.kind"
    assert columns["Desired"] == ".spec.workload.replicas"
    assert columns["Ready"] == ".status.readyReplicas"
    assert columns["Phase"] == ".status.phase"
    assert columns["Age"] == ".metadata.creationTimestamp"

    profiles = crd.render_crds()[PROFILES]["spec"]
    assert profiles["scope"] == "Cluster"
    assert profiles["names"]["shortNames"] == ["spf"]
    assert profiles["versions"][0]["subresources"] == {"status": {}}


def test_crds_fit_client_side_apply() -> None:
    # kubectl apply without --server-side stores the whole object in an annotation, which
    # the API server caps at 262144 bytes; keep well clear of it.
    for name, definition in crd.render_crds().items():
        assert len(json.dumps(definition)) < 150_000, name


def test_models_and_crd_agree_on_field_names() -> None:
    spec = _schema(PODPATTERNS)["properties"]["spec"]["properties"]
    assert set(spec) == {field.alias or name for name, field in PodPatternSpec.model_fields.items()}
    assert PodPattern.model_fields["api_version"].default == "podpatterns.dev/v1alpha1"


def test_unsupported_constructs_are_refused() -> None:
    class Union(SpecModel):
        """A union of two types has no structural form."""

        value: int | bool | None = None

    with pytest.raises(SchemaError, match="unions are not structural"):
        structural_schema(Union)
