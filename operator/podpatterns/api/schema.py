"""pydantic JSON Schema → Kubernetes structural OpenAPI v3 schema.

A CRD's schema must be structural: every node typed (or explicitly int-or-string or
free-form), no references, no unions except the int-or-string pattern, no `title`, and
only the OpenAPI keywords the API server knows. pydantic's JSON Schema is none of those,
so this module rewrites it:

- `$ref`s are inlined (the API server has no definitions section);
- `Optional[X]` becomes plain X: an explicit null is pruned by the API server and then
  means the same as leaving the field out, which is what None means in the models, and
  CEL's `has()` stays exact;
- `title` and `default` are dropped: defaults live in the models, so a later change of a
  default does not need a migration of stored objects. A field marked with
  `base.crd_default` gets its default written on purpose;
- anything the converter does not recognise is an error, never silently passed on.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

CRD_DEFAULT = "x-podpatterns-crd-default"

# Keywords copied as they are: their meaning is the same in JSON Schema and in the
# Kubernetes OpenAPI v3 subset.
_PASSTHROUGH = frozenset(
    {
        "description",
        "type",
        "format",
        "enum",
        "required",
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "minProperties",
        "maxProperties",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
        "x-kubernetes-embedded-resource",
    }
)
_DROPPED = frozenset({"title", "default", "examples"})
_FORMATS = frozenset({"date-time", "int32", "int64", "byte"})
INT64_BOUND = 2**63 - 1


class SchemaError(ValueError):
    """A model uses a construct that has no structural-schema equivalent."""


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of `model`, ready to go under a CRD's openAPIV3Schema."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.pop("$defs", {})
    return _convert(raw, definitions, (model.__name__,))


def _convert(
    node: dict[str, Any], definitions: dict[str, Any], at: tuple[str, ...]
) -> dict[str, Any]:
    node = dict(node)
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        if name in at:
            raise SchemaError(f"{'.'.join(at)}: recursive model {name} cannot be inlined")
        target = _convert(definitions[name], definitions, (*at, name))
        # Keywords beside the reference belong to the field (its description, its list
        # annotations) and win over those of the referenced model.
        return {**target, **_convert(node, definitions, at)}
    if "allOf" in node:
        parts = node.pop("allOf")
        if len(parts) != 1:
            raise SchemaError(f"{'.'.join(at)}: allOf with {len(parts)} parts is not supported")
        return {**_convert(parts[0], definitions, at), **_convert(node, definitions, at)}
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        branches = [branch for branch in node.pop("anyOf") if branch != {"type": "null"}]
        if len(branches) != 1:
            raise SchemaError(
                f"{'.'.join(at)}: unions are not structural; use one type or int-or-string"
            )
        return {**_convert(branches[0], definitions, at), **_convert(node, definitions, at)}

    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == CRD_DEFAULT:
            result["default"] = copy.deepcopy(value)
        elif key == "properties":
            result["properties"] = {
                name: _convert(prop, definitions, (*at, name)) for name, prop in value.items()
            }
        elif key == "items":
            result["items"] = _convert(value, definitions, (*at, "[]"))
        elif key == "additionalProperties":
            if value is False:
                # extra="forbid": the API server prunes or, with strict field validation,
                # refuses unknown fields of a structural schema by itself.
                continue
            if value is True:
                result["x-kubernetes-preserve-unknown-fields"] = True
            else:
                result["additionalProperties"] = _convert(value, definitions, (*at, "{}"))
        elif key == "anyOf":  # int-or-string: the one union a structural schema allows
            result["anyOf"] = copy.deepcopy(value)
        elif key == "const":
            result["enum"] = [value]
        elif key == "format":
            if value in _FORMATS:
                result["format"] = value
        elif key in ("minimum", "maximum") and abs(value) >= INT64_BOUND:
            # The API server reads a schema's bounds as float64, in which 2^63-1 is not an
            # integer, and then refuses every object that sets the field; a value beyond
            # int64 fails its integer type anyway.
            continue
        elif key in _PASSTHROUGH:
            result[key] = copy.deepcopy(value)
        else:
            raise SchemaError(f"{'.'.join(at)}: JSON Schema keyword {key!r} is not supported")
    if result.get("type") == "object" and not (
        "properties" in result
        or "additionalProperties" in result
        or result.get("x-kubernetes-preserve-unknown-fields")
    ):
        # An object with no declared fields would have everything pruned from it.
        raise SchemaError(f"{'.'.join(at)}: object without fields; use FreeForm")
    return result


def walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every node of a structural schema with its path (`.spec.sidecars[].name`)."""
    yield path, schema
    for name, prop in schema.get("properties", {}).items():
        yield from walk(prop, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


def undescribed_properties(schema: dict[str, Any]) -> list[str]:
    """Paths of properties that have no description: `kubectl explain` would show nothing."""
    missing = []
    for path, node in walk(schema):
        for name, prop in node.get("properties", {}).items():
            if not prop.get("description", "").strip():
                missing.append(f"{path}.{name}")
    return missing
