"""Building blocks shared by the v1alpha1 models: base classes, value types and rules.

Every model is written once, in Python, and three things are derived from it: the parsing
of user input (pydantic), the CRD's structural schema (`podpatterns.api.schema`) and the
semantic checks (`podpatterns.api.validation`). The helpers here carry the bits of
Kubernetes schema vocabulary (list maps, int-or-string, CEL rules) that pydantic does not
know about, so that the three never drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

GROUP = "podpatterns.dev"
VERSION = "v1alpha1"
API_VERSION: Final = "podpatterns.dev/v1alpha1"

# Labels and annotations under this prefix are written by the operator; users may not set them.
RESERVED_PREFIX = f"{GROUP}/"

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Object names that also become Service names and label values must be DNS-1035 labels.
DNS_1035_LABEL_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# The grammar of resource.Quantity, as the Kubernetes OpenAPI documents publish it.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
PERCENT_PATTERN = r"^(100|[1-9]?[0-9])%$"
ABSOLUTE_PATH_PATTERN = r"^/"
# IANA_SVC_NAME, as Kubernetes checks port names: lowercase letters and digits in groups
# joined by single hyphens, with at least one letter somewhere.
PORT_NAME_PATTERN = r"^([a-z0-9]+-)*[0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$"

# The bounds of the Go integer types behind the fields: the API server decodes into them,
# and refuses (or, for a workload's fields, fails to decode) anything beyond.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# Upper bounds on lists that CEL rules iterate: the API server estimates a rule's cost
# from them and refuses a CRD whose worst case exceeds its budget.
MAX_CONTAINERS = 16
MAX_VOLUMES = 32
MAX_CONTAINER_REFS = 2 * MAX_CONTAINERS + 1

CelReason = Literal[
    "FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"
]


@dataclass(frozen=True)
class Rule:
    """A cross-field rule written once and enforced twice.

    The API server evaluates `cel` at `kubectl apply` time; `podpatterns.api.validation`
    evaluates `holds` for files checked offline and for objects stored before the rule
    existed. Both report `message`, so a user sees the same words either way.
    """

    # None for rules only Python checks: the Pod API enforces them anyway, and a CEL rule
    # inside a list without maxItems would cost too much of the CRD's CEL budget.
    cel: str | None
    message: str
    holds: Callable[[Any], bool]
    # The field the rule is about, relative to the model and spelled as in YAML
    # (e.g. "replicas" or "rollout.maxSurge"); None points at the model itself.
    field: str | None = None
    cel_reason: CelReason = "FieldValueInvalid"
    reason: str = "InvalidSpec"

    def to_schema(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"rule": self.cel, "message": self.message}
        if self.field is not None:
            rule["fieldPath"] = "." + self.field
        rule["reason"] = self.cel_reason
        return rule


def has(model: BaseModel, field: str) -> bool:
    """CEL's `has()` for a parsed model: the field was given and is not null.

    The API server prunes nulls of non-nullable fields before it evaluates rules, so a
    field set to null counts as absent on both sides.
    """
    return field in model.model_fields_set and getattr(model, field) is not None


def _add_schema_extras(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    rules: tuple[Rule, ...] = getattr(cls, "cel_rules", ())
    if rules:
        compiled = [rule.to_schema() for rule in rules if rule.cel is not None]
        if compiled:
            schema["x-kubernetes-validations"] = compiled


class SpecModel(BaseModel):
    """Base of everything users write: strict, camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        # The CRD's types are strict ("3" is not an integer, "true" not a boolean), so the
        # models are too; `validation.parse` turns whole floats (3.0) into integers first,
        # as kubectl's YAML-to-JSON conversion does.
        strict=True,
        json_schema_extra=_add_schema_extras,
    )

    cel_rules: ClassVar[tuple[Rule, ...]] = ()


class StatusModel(BaseModel):
    """Base of what the operator writes.

    Unknown keys are ignored rather than refused: status is read back from the API server,
    and a newer operator's additions must not make an older one fail to parse an object.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
    )


# --- value types -------------------------------------------------------------------------

DnsLabel = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
AbsolutePath = Annotated[str, StringConstraints(min_length=1, pattern=ABSOLUTE_PATH_PATTERN)]
StringMap = dict[str, str]

# Lower bounds come with each field (most are ge=0), so only the upper one is here.
Int32 = Annotated[int, Field(le=INT32_MAX)]
"""An integer the API server stores as int32."""
Int64 = Annotated[int, Field(le=INT64_MAX)]
"""An integer the API server stores as int64. The bound is checked offline only: the CRD
cannot carry it (see `podpatterns.api.schema`)."""
# User and group IDs are int64 in the API, but the API server accepts only 0..2^31-1.
LinuxId = Annotated[int, Field(ge=0, le=INT32_MAX)]

# Regular expressions written for the API server (RE2, where `$` is the end of the text)
# are matched here with fullmatch: Python's `$` also matches before a final newline.
_QUANTITY = re.compile(QUANTITY_PATTERN)
_PERCENT = re.compile(PERCENT_PATTERN)

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY_PARTS = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)")


def quantity_value(value: int | str) -> Fraction:
    """The exact amount of a resource.Quantity (500m is 1/2, 1Ki is 1024)."""
    if isinstance(value, int):
        return Fraction(value)
    match = _QUANTITY_PARTS.fullmatch(value)
    if match is None or not _QUANTITY.fullmatch(value):
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix in _BINARY_SUFFIXES:
        return number * _BINARY_SUFFIXES[suffix]
    if suffix in _DECIMAL_SUFFIXES:
        return number * _DECIMAL_SUFFIXES[suffix]
    return number * Fraction(10) ** int(suffix[1:])


def _quantity(value: Any) -> Any:
    # bool is an int in Python but `true` is never a quantity; floats are refused because
    # the API server only accepts whole JSON numbers for int-or-string fields.
    if isinstance(value, bool):
        raise ValueError("must be a quantity such as 500m, 2Gi or 1, not true/false")
    if isinstance(value, float):
        raise ValueError(
            f"must be quoted when it is not a whole number: write '{value}' or "
            f"'{round(value * 1000)}m'"
        )
    if isinstance(value, str):
        try:
            quantity_value(value)
        except ValueError:
            raise ValueError(
                f"must be a quantity such as 500m, 2Gi or 1, not {value!r}"
            ) from None
    return value


def _int_or_percent(value: Any) -> Any:
    if isinstance(value, bool | float):
        raise ValueError(
            f"must be a whole number of Pods or a percentage such as 25%, not {value!r}"
        )
    if isinstance(value, int) and not 0 <= value <= INT32_MAX:
        raise ValueError(f"must be between 0 and {INT32_MAX}, not {value}")
    if isinstance(value, str) and not _PERCENT.fullmatch(value):
        raise ValueError(
            f"must be a whole number of Pods or a percentage such as 25%, not {value!r}"
        )
    return value


_INT_OR_STRING: dict[str, Any] = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
}

Quantity = Annotated[
    int | str,
    BeforeValidator(_quantity),
    WithJsonSchema({**_INT_OR_STRING, "pattern": QUANTITY_PATTERN}),
]
"""A resource.Quantity: an integer, or a string such as 500m or 2Gi."""

IntOrPercent = Annotated[
    int | str,
    BeforeValidator(_int_or_percent),
    WithJsonSchema({**_INT_OR_STRING, "pattern": PERCENT_PATTERN, "minimum": 0}),
]
"""A number of Pods or a percentage of the desired Pods, as Deployments take it."""

FreeForm = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]
"""An object passed through to Kubernetes as written; the API server checks it later."""


# --- schema annotations for fields ------------------------------------------------------


def list_map(*keys: str) -> dict[str, Any]:
    """A list whose items are identified by `keys`, so server-side apply merges per item."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


def list_set() -> dict[str, Any]:
    """A list of unique scalars; the API server refuses duplicates."""
    return {"x-kubernetes-list-type": "set"}


def list_atomic() -> dict[str, Any]:
    """A list replaced as a whole by server-side apply."""
    return {"x-kubernetes-list-type": "atomic"}


def crd_default(value: Any) -> dict[str, Any]:
    """Write `value` as the CRD default, which the API server then stores in the object.

    Defaults are otherwise left to the models. Use this only where a stored default pays
    for itself: printer columns and CEL rules can then rely on the field being present.
    """
    # The schema converter turns this marker into `default` (see podpatterns.api.schema).
    return {"x-podpatterns-crd-default": value}


class ObjectMeta(BaseModel):
    """The parts of metadata the operator reads. Everything else is ignored, not refused:
    the API server owns metadata and adds to it over time."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore"
    )

    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None
