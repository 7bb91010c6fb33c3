"""The CustomResourceDefinitions of podpatterns.dev, generated from the models.

`podpatterns crd` (and `make crds`) writes them to crds/; a unit test fails when the
committed files differ from a fresh generation, so the models stay the one source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from podpatterns.api.schema import structural_schema
from podpatterns.api.v1alpha1 import (
    GROUP,
    VERSION,
    PodPatternSpec,
    PodPatternStatus,
    SidecarProfileSpec,
    SidecarProfileStatus,
)
from podpatterns.api.v1alpha1.base import DNS_1035_LABEL_PATTERN

CATEGORY = "podpatterns"

HEADER = "# Generated from operator/podpatterns/api by `podpatterns crd`; do not edit.\n"


def _root(
    kind: str,
    description: str,
    spec: type[BaseModel],
    status: type[BaseModel],
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "description": "Versioned schema of this object: podpatterns.dev/v1alpha1.",
                "type": "string",
            },
            "kind": {"description": f"Kind of this object: {kind}.", "type": "string"},
            # The API server refuses anything on metadata beyond restrictions of name and
            # generateName, a description included.
            "metadata": metadata or {"type": "object"},
            "spec": structural_schema(spec),
            "status": structural_schema(status),
        },
    }


def _crd(
    *,
    kind: str,
    plural: str,
    short_names: list[str],
    scope: str,
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
    subresources: dict[str, Any],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": [CATEGORY],
            },
            "scope": scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": subresources,
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def podpattern_crd() -> dict[str, Any]:
    # Pattern names become label values, Service names and the prefix of Pod names, so
    # they must be DNS-1035 labels rather than the usual DNS subdomains.
    metadata = {
        "type": "object",
        "properties": {
            "name": {
                "description": "Name of the PodPattern: a DNS-1035 label (at most 63 "
                "lowercase letters, digits and '-', starting with a letter), because it "
                "becomes a label value and the name of the Service.",
                "type": "string",
                "maxLength": 63,
                "pattern": DNS_1035_LABEL_PATTERN,
            }
        },
    }
    schema = _root(
        "PodPattern",
        "One application: a main container, its sidecars and shared volumes, and how its "
        "Pods are run.",
        PodPatternSpec,
        PodPatternStatus,
        metadata,
    )
    return _crd(
        kind="PodPattern",
        plural="podpatterns",
        short_names=["pp"],
        scope="Namespaced",
        schema=schema,
        subresources={
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.workload.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector",
            },
        },
        columns=[
            {"name": "Kind", "type": "string", "jsonPath": ".spec.workload.kind"},
            {"name": "Desired", "type": "integer", "jsonPath": ".spec.workload.replicas"},
            {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Mode", "type": "string", "jsonPath": ".status.sidecarMode", "priority": 1},
            {"name": "Hash", "type": "string", "jsonPath": ".status.templateHash", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


def sidecarprofile_crd() -> dict[str, Any]:
    schema = _root(
        "SidecarProfile",
        "A reusable sidecar definition owned by the platform team, referenced by name from "
        "PodPatterns. Only a profile can grant privileges (hostPath, privileged, added "
        "capabilities).",
        SidecarProfileSpec,
        SidecarProfileStatus,
    )
    return _crd(
        kind="SidecarProfile",
        plural="sidecarprofiles",
        short_names=["spf"],
        scope="Cluster",
        schema=schema,
        subresources={"status": {}},
        columns=[
            {"name": "Preset", "type": "string", "jsonPath": ".spec.preset"},
            {"name": "Used By", "type": "integer", "jsonPath": ".status.usedBy"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


def render_crds() -> dict[str, dict[str, Any]]:
    """Every CRD by file name (`podpatterns.dev_podpatterns.yaml`, ...)."""
    crds = [podpattern_crd(), sidecarprofile_crd()]
    return {f"{GROUP}_{crd['spec']['names']['plural']}.yaml": crd for crd in crds}


def to_yaml(crd: dict[str, Any]) -> str:
    # Sorted keys keep the output stable and reviewable; width keeps long descriptions
    # and CEL rules on one line each, so diffs show whole rules.
    return HEADER + yaml.safe_dump(crd, sort_keys=True, width=1_000_000, allow_unicode=True)


def generate(out_dir: Path | str) -> list[Path]:
    """Write every CRD to `out_dir`; returns the paths written."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, crd in render_crds().items():
        path = directory / file_name
        path.write_text(to_yaml(crd), encoding="utf-8")
        written.append(path)
    return written
