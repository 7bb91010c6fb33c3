"""Validation of PodPatterns beyond what the CRD schema can express, with messages for people.

Two steps, both pure:

- `parse` turns a body (a dict from YAML or the API server) into a model. pydantic's
  errors are rewritten into `FieldError`s with the path as written in YAML
  (`spec.volumes[1].mountPath`) and a message that says what to do.
- `check` finds what the schema cannot: names that refer to nothing, clashes between
  containers (names, ports, mount paths), privileges, and the cross-field rules the CRD
  also enforces with CEL (objects checked offline, or stored before a rule existed, get
  the same answer as `kubectl apply`).

`validate` does both and raises `InvalidPattern` with every error found.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from podpatterns.api.endpoints import parse_endpoint
from podpatterns.api.fields import (
    container_problems,
    field_problems,
    label_value_problem,
    qualified_name_problem,
)
from podpatterns.api.pod_rules import pod_rule_problems
from podpatterns.api.preset_text import config_value_problem, folder_problem
from podpatterns.api.scheduling import scheduling_problems
from podpatterns.api.v1alpha1 import (
    API_VERSION,
    RESERVED_PREFIX,
    LoggingSettings,
    PodPattern,
    ProxySettings,
    SidecarProfile,
)
from podpatterns.api.v1alpha1.base import (
    ABSOLUTE_PATH_PATTERN,
    DNS_1035_LABEL_PATTERN,
    DNS_LABEL_PATTERN,
    PERCENT_PATTERN,
    PORT_NAME_PATTERN,
    has,
)
from podpatterns.api.v1alpha1.container import (
    ENV_NAME_PATTERN,
    ENV_PREFIX_PATTERN,
    IMAGE_PATTERN,
    ContainerFields,
    Sidecar,
)
from podpatterns.api.v1alpha1.podpattern import SYSCTL_PATTERN, PodPatternSpec
from podpatterns.api.v1alpha1.presets import DNS_SUBDOMAIN_PATTERN

Part = str | int
Model = TypeVar("Model", bound=BaseModel)

GPU_RESOURCE = "nvidia.com/gpu"
# The reason of a sidecar naming a SidecarProfile that does not exist (yet).
PROFILE_NOT_FOUND = "ProfileNotFound"
# Kubernetes appends 11 characters to a CronJob's name for its Jobs, and a StatefulSet's
# revision label is its name plus a hash: both must stay within 63.
MAX_NAME = {"CronJob": 52, "StatefulSet": 52}


@dataclass(frozen=True)
class FieldError:
    """One problem with a PodPattern: where, a CamelCase reason, and what to do about it."""

    path: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidPattern(ValueError):
    """A PodPattern (or SidecarProfile) that cannot be used; `errors` says why."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


# --- parsing -----------------------------------------------------------------------------


def parse(body: Mapping[str, Any]) -> PodPattern:
    """Parse a PodPattern body; raises `InvalidPattern` with one error per problem."""
    return _parse(PodPattern, body)


def parse_profile(body: Mapping[str, Any]) -> SidecarProfile:
    """Parse a SidecarProfile body; raises `InvalidPattern` with one error per problem."""
    return _parse(SidecarProfile, body)


def validate(
    body: Mapping[str, Any], profiles: Mapping[str, SidecarProfile] | None = None
) -> PodPattern:
    """Parse and check a PodPattern; raises `InvalidPattern` unless it is fully valid."""
    pattern = parse(body)
    errors = check(pattern, profiles)
    if errors:
        raise InvalidPattern(errors)
    return pattern


def _parse(model: type[Model], body: Mapping[str, Any]) -> Model:
    # A deep, plain copy: Kopf hands out read-only mapping views, and the model must never
    # share lists or dicts with the caller's body.
    data = _plain(body)
    if not isinstance(data, dict):
        raise InvalidPattern(
            [FieldError("", "InvalidSpec", f"a {model.__name__} must be a mapping of fields")]
        )
    found = _envelope_problems(model.__name__, data)
    try:
        parsed = model.model_validate(data)
    except ValidationError as error:
        paths = {problem.path for problem in found}
        rest = [problem for problem in _translate(error, data, model) if problem.path not in paths]
        raise InvalidPattern(found + rest) from None
    if found:
        raise InvalidPattern(found)
    return parsed


# etcd refuses a write over 1.5 MiB (1,572,864 bytes) with the key and the managed fields
# the API server adds: on the dev cluster a Pod of 1,570,583 bytes of JSON was stored and
# one of 1,572,536 was not (a server-side dry run, which skips etcd, accepted 2 MB). The
# Pods rendered from a PodPattern carry its containers plus their own metadata, so the
# PodPattern gets 70 kB less. An object that was stored (it has a resourceVersion) fits
# by definition and is not measured.
MAX_OBJECT_BYTES = 1_500_000


def _plain(value: Any) -> Any:
    """A plain copy as the API server sees it: nulls of fields dropped (the server prunes
    them, so they mean "not set"), and whole floats as integers (kubectl's YAML-to-JSON
    conversion writes 3.0 as 3)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


_ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
# Every field of meta/v1 ObjectMeta: kubectl's strict field validation refuses the others.
_METADATA_FIELDS = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def _envelope_problems(kind: str, data: dict[str, Any]) -> list[FieldError]:
    """apiVersion, kind, unknown top-level and metadata fields, and the size: what the
    API server checks before the schema."""
    found: list[FieldError] = []
    for field, expected in (("apiVersion", API_VERSION), ("kind", kind)):
        given = data.get(field)
        if given is None:
            found.append(
                FieldError(field, "MissingField", f"{kind}: {field} is required: add "
                           f"{field}: {expected}")
            )
        elif given != expected:
            found.append(
                FieldError(field, "InvalidSpec", f"{kind}: {field} must be {expected}, "
                           f"not {given!r}")
            )
    for parts, known in ((["metadata"], _METADATA_FIELDS), ([], _ROOT_FIELDS)):
        container = data.get("metadata") if parts else data
        for key in container if isinstance(container, dict) else ():
            if key not in known:
                found.append(
                    FieldError(format_path([*parts, str(key)]), "UnknownField",
                               f"{kind}: {_unknown_hint(str(key), list(known))}")
                )
    metadata = data.get("metadata")
    found.extend(_metadata_problems(kind, metadata if isinstance(metadata, dict) else {}))
    stored = isinstance(metadata, dict) and "resourceVersion" in metadata
    # default=str: YAML dates and the like count as the strings they are sent as.
    size = 0 if stored else len(json.dumps(data, separators=(",", ":"), default=str).encode())
    if size > MAX_OBJECT_BYTES:
        found.append(
            FieldError("spec", "TooLarge", f"{kind}: the object is {size} bytes as JSON, more "
                       f"than the {MAX_OBJECT_BYTES} the API server can store: move large "
                       "values (env, configuration) into a ConfigMap or Secret")
        )
    return found


def _metadata_problems(kind: str, metadata: dict[str, Any]) -> list[FieldError]:
    """ValidateObjectMeta's rules for the object's own labels and annotations."""
    found = []
    for field in ("labels", "annotations"):
        entries = metadata.get(field)
        for key, value in entries.items() if isinstance(entries, dict) else ():
            # The API server checks annotation keys lowercased (ValidateAnnotations).
            checked = str(key) if field == "labels" else str(key).lower()
            problem = qualified_name_problem(checked)
            if problem is None and field == "labels" and isinstance(value, str):
                problem = label_value_problem(value)
                problem = f"the value {problem}" if problem else None
            if problem:
                found.append(
                    FieldError(format_path(["metadata", field, str(key)]), "InvalidLabel",
                               f"{kind}: {field} {key!r}: {problem}")
                )
    return found


def _unknown_hint(field: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(field, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "remove it (field names are camelCase)"
    return f"{field} is not a known field: {hint}"


def _translate(
    error: ValidationError, data: dict[str, Any], model: type[BaseModel]
) -> list[FieldError]:
    found: list[FieldError] = []
    seen: set[str] = set()
    for detail in error.errors(include_url=False):
        parts = _locate(detail["loc"], data, detail["type"])
        path = format_path(parts)
        # A union reports each of its branches at the same place; one message is enough.
        if path in seen:
            continue
        seen.add(path)
        subject = _subject(parts, data, model)
        reason, problem = _problem(detail, parts, model)
        found.append(FieldError(path, reason, f"{subject}: {problem}"))
    return found


_MISSING = object()


def _step(current: Any, part: Part) -> Any:
    if isinstance(current, dict) and isinstance(part, str) and part in current:
        return current[part]
    if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
        return current[part]
    return _MISSING


def _locate(loc: tuple[Part, ...], data: Any, error_type: str) -> list[Part]:
    """The part of a pydantic location that exists in the input, which drops the names
    pydantic gives to union branches and validators."""
    parts: list[Part] = []
    current = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        step = _step(current, part)
        if step is not _MISSING:
            parts.append(part)
            current = step
        elif last and error_type == "missing" and isinstance(part, str):
            parts.append(part)
        else:
            current = None
    return parts


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def format_path(parts: Sequence[Part]) -> str:
    """`spec.volumes[1].containers[0]`; map keys that are not identifiers go in brackets,
    as the API server writes them (`limits[nvidia.com/gpu]`)."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part}]"
    return text


_LISTS = {"sidecars": "sidecar", "initContainers": "init container", "volumes": "volume"}


def _subject(parts: Sequence[Part], data: Any, model: type[BaseModel] | None = None) -> str:
    """What the path is about, in words: "sidecar 'logs'", "volume 'models'", ..."""
    kind = model.__name__ if model else "PodPattern"
    if kind == "SidecarProfile":
        return "SidecarProfile"
    if len(parts) >= 2 and parts[0] == "spec":
        section = parts[1]
        spec = data.get("spec") if isinstance(data, dict) else None
        spec = spec if isinstance(spec, dict) else {}
        if section == "main":
            main = spec.get("main")
            name = main.get("name") if isinstance(main, dict) else None
            return f"main container '{name or 'main'}'"
        if section in _LISTS and len(parts) >= 3 and isinstance(parts[2], int):
            entries = spec.get(section)
            entry = entries[parts[2]] if isinstance(entries, list) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            label = _LISTS[str(section)]
            return f"{label} '{name}'" if name else f"{label} #{parts[2] + 1}"
        if section == "workload":
            return "workload"
        if section == "pod":
            return "Pod settings"
        if section == "service":
            return "service"
    return kind


_PATTERN_HINTS = {
    SYSCTL_PATTERN: "must be a sysctl name such as net.ipv4.ip_local_port_range",
    DNS_LABEL_PATTERN: "must be a DNS label: lowercase letters, digits and '-', starting and "
    "ending with a letter or digit, such as log-shipper",
    DNS_1035_LABEL_PATTERN: "must be a DNS-1035 label: lowercase letters, digits and '-', "
    "starting with a letter, such as web",
    DNS_SUBDOMAIN_PATTERN: "must be a Kubernetes object name: lowercase letters, digits, "
    "'-' and '.', such as web-tls",
    ABSOLUTE_PATH_PATTERN: "must be an absolute path, starting with /",
    PERCENT_PATTERN: "must be a percentage such as 25%",
    PORT_NAME_PATTERN: "must be a port name: at most 15 lowercase letters, digits and '-', "
    "with at least one letter, no '--', starting and ending with a letter or digit, such as "
    "http or metrics-2",
    ENV_NAME_PATTERN: "must be printable ASCII characters other than '=', such as LOG_LEVEL",
    ENV_PREFIX_PATTERN: "must be printable ASCII characters other than '='",
    IMAGE_PATTERN: "must not be empty or start or end with whitespace",
}


def _problem(
    detail: Mapping[str, Any], parts: Sequence[Part], model: type[BaseModel]
) -> tuple[str, str]:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    field = str(parts[-1]) if parts else "it"
    if len(parts) >= 2 and isinstance(parts[-1], int):
        field = f"{parts[-2]}[{parts[-1]}]"
    given = detail.get("input")
    if kind == "missing":
        return "MissingField", f"{field} is required: add it"
    if kind == "extra_forbidden":
        return "UnknownField", _unknown_hint(field, _known_fields(model, parts[:-1]))
    if kind == "literal_error":
        return "InvalidSpec", f"{field} must be one of {ctx.get('expected')}, not {given!r}"
    if kind == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
        return "InvalidSpec", f"{field} {hint}; {given!r} is not"
    if kind == "string_too_short":
        return "InvalidSpec", f"{field} must not be empty"
    if kind == "string_too_long":
        return "InvalidSpec", f"{field} must be at most {ctx.get('max_length')} characters long"
    if kind == "too_short":
        return "InvalidSpec", f"{field} needs at least {ctx.get('min_length')} entries"
    if kind == "too_long":
        return "InvalidSpec", f"{field} can have at most {ctx.get('max_length')} entries"
    if kind == "greater_than_equal":
        return "InvalidSpec", f"{field} must be at least {ctx.get('ge')}, not {given!r}"
    if kind == "less_than_equal":
        return "InvalidSpec", f"{field} must be at most {ctx.get('le')}, not {given!r}"
    # The CRD's types are strict: a quoted number or boolean is a string to the API server.
    unquote = ": remove the quotes" if isinstance(given, str) else ""
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "InvalidSpec", f"{field} must be a whole number, not {_type_name(given)}{unquote}"
    if kind in ("bool_type", "bool_parsing"):
        return "InvalidSpec", f"{field} must be true or false, not {_type_name(given)}{unquote}"
    if kind == "string_type":
        return "InvalidSpec", f'{field} must be a string: quote it, for example "{given}"'
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "InvalidSpec", f"{field} must be a mapping of fields, not {_type_name(given)}"
    if kind == "list_type":
        return "InvalidSpec", f"{field} must be a list, not {_type_name(given)}"
    if kind == "value_error":
        return "InvalidSpec", f"{field} {ctx.get('error', detail['msg'])}"
    return "InvalidSpec", f"{field}: {detail['msg']}"


def _type_name(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return type(value).__name__


def _known_fields(model: type[BaseModel], parts: Sequence[Part]) -> list[str]:
    """The YAML field names valid at `parts`, for spelling suggestions."""
    current: Any = model
    for part in parts:
        current = _unwrap(current, want_item=isinstance(part, int))
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        fields = {
            (info.alias or name): info.annotation for name, info in current.model_fields.items()
        }
        if part not in fields:
            return []
        current = fields[part]
    current = _unwrap(current, want_item=False)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(annotation: Any, *, want_item: bool) -> Any:
    """Strip Optional and Annotated, and step into list items when `want_item`."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = options[0]
        elif want_item and origin is list:
            annotation = typing.get_args(annotation)[0]
            want_item = False
        else:
            return annotation


# --- semantic checks ---------------------------------------------------------------------


def check(
    pattern: PodPattern, profiles: Mapping[str, SidecarProfile] | None = None
) -> list[FieldError]:
    """Everything wrong with a parsed PodPattern that its schema cannot catch.

    `profiles` are the SidecarProfiles that exist, by name; when given, references to
    others are errors. Errors come in a stable order: the order of the spec.
    """
    data = pattern.model_dump(mode="json", exclude_none=True)
    errors = _Collector(data)
    _check_name(pattern, errors)
    _check_rules(pattern.spec, ["spec"], errors)
    spec = pattern.spec
    _check_container_names(spec, errors)
    _check_volume_names(spec, errors)
    _check_volume_references(spec, errors)
    _check_mounts(spec, errors)
    _check_ports(spec, errors)
    _check_env(spec, errors)
    _check_presets(spec, errors)
    _check_profiles(spec, profiles, errors)
    _check_pod_metadata(spec, errors)
    _check_service(spec, profiles, errors)
    _check_workload(spec, errors)
    check_fields(spec, profiles, errors)
    return errors.found


def check_profile(profile: SidecarProfile) -> list[FieldError]:
    """Everything wrong with a parsed SidecarProfile that its schema cannot catch."""
    errors = _Collector(profile.model_dump(mode="json", exclude_none=True), "SidecarProfile")
    _check_rules(profile.spec, ["spec"], errors)
    spec = profile.spec
    if spec.preset == "logging":
        _check_logging(spec.logging or LoggingSettings(), ["spec", "logging"], errors)
    if spec.preset == "proxy" and spec.proxy is not None:
        _check_proxy_ports(spec.proxy, ["spec", "proxy"], errors)
    if spec.container is not None:
        context = spec.container.security_context
        privileged = bool(context and context.privileged)
        for parts, reason, message in container_problems(
            spec.container, ["spec", "container"], privileged
        ):
            errors.add(parts, reason, message)
    return errors.found


class _Collector:
    def __init__(self, data: dict[str, Any], kind: str = "PodPattern") -> None:
        self.data = data
        self.kind = kind
        self.found: list[FieldError] = []

    def add(self, parts: Sequence[Part], reason: str, message: str) -> None:
        model = SidecarProfile if self.kind == "SidecarProfile" else PodPattern
        subject = _subject(parts, self.data, model)
        error = FieldError(format_path(parts), reason, f"{subject}: {message}")
        # One cause can surface twice (two containers of the same name share their mounts).
        if error not in self.found:
            self.found.append(error)


def _check_name(pattern: PodPattern, errors: _Collector) -> None:
    name = pattern.metadata.name
    if not name:
        errors.add(["metadata", "name"], "MissingField", "metadata.name is required: add it")
        return
    if len(name) > 63 or not re.fullmatch(DNS_1035_LABEL_PATTERN, name):
        errors.add(
            ["metadata", "name"],
            "InvalidSpec",
            f"the name {name!r} must be a DNS-1035 label of at most 63 characters (lowercase "
            "letters, digits and '-', starting with a letter), because it becomes a label "
            "value and a Service name: rename the PodPattern",
        )
        return
    kind = pattern.spec.workload.kind
    limit = MAX_NAME.get(kind)
    if limit is not None and len(name) > limit:
        errors.add(
            ["metadata", "name"],
            "InvalidSpec",
            f"the name {name!r} is {len(name)} characters long; a PodPattern of workload kind "
            f"{kind} may have at most {limit}, because Kubernetes appends to it: rename it",
        )


def _check_rules(model: BaseModel, parts: list[Part], errors: _Collector) -> None:
    for rule in getattr(type(model), "cel_rules", ()):
        if not rule.holds(model):
            where = parts + (rule.field.split(".") if rule.field else [])
            errors.add(where, rule.reason, rule.message)
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = info.alias or name
        if isinstance(value, BaseModel):
            _check_rules(value, [*parts, key], errors)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _check_rules(item, [*parts, key, index], errors)


def _entries(spec: PodPatternSpec) -> Iterator[tuple[list[Part], ContainerFields, str]]:
    """Every container entry with its path and name, main first."""
    yield ["spec", "main"], spec.main, spec.main.name
    for index, sidecar in enumerate(spec.sidecars):
        yield ["spec", "sidecars", index], sidecar, sidecar.name
    for index, init in enumerate(spec.init_containers):
        yield ["spec", "initContainers", index], init, init.name


def _describe(parts: Sequence[Part]) -> str:
    if parts[1] == "main":
        return "the main container"
    return f"{format_path(parts)}"


def _check_container_names(spec: PodPatternSpec, errors: _Collector) -> None:
    first: dict[str, list[Part]] = {}
    for parts, _, name in _entries(spec):
        if name in first:
            errors.add(
                [*parts, "name"],
                "DuplicateName",
                f"the container name {name!r} is already used by {_describe(first[name])}; "
                "container names must be unique in the Pod: rename one of them",
            )
        else:
            first[name] = parts


def _check_volume_names(spec: PodPatternSpec, errors: _Collector) -> None:
    seen: set[str] = set()
    for index, volume in enumerate(spec.volumes):
        if volume.name in seen:
            errors.add(
                ["spec", "volumes", index, "name"],
                "DuplicateName",
                f"another volume is already named {volume.name!r}: rename one of them",
            )
        seen.add(volume.name)


def _check_volume_references(spec: PodPatternSpec, errors: _Collector) -> None:
    containers = spec.container_names()
    volumes = {volume.name for volume in spec.volumes}
    listing = ", ".join(containers)
    for index, volume in enumerate(spec.volumes):
        for field, names in (
            ("containers", volume.containers or []),
            ("readOnly", volume.read_only),
        ):
            for position, name in enumerate(names):
                if name not in containers:
                    errors.add(
                        ["spec", "volumes", index, field, position],
                        "UndefinedContainer",
                        f"{field} names container {name!r}, which this PodPattern does not "
                        f"have (it has {listing}): fix the name or remove it",
                    )
    defined = ", ".join(sorted(volumes)) or "none"
    for parts, entry, _ in _entries(spec):
        for position, mount in enumerate(entry.volume_mounts or []):
            if mount.name not in volumes:
                errors.add(
                    [*parts, "volumeMounts", position, "name"],
                    "UndefinedVolume",
                    f"volumeMounts names volume {mount.name!r}, which is not in spec.volumes "
                    f"(defined: {defined}): add it to spec.volumes or fix the name",
                )
    for index, init in enumerate(spec.init_containers):
        if init.data_loader and init.data_loader.volume not in volumes:
            errors.add(
                ["spec", "initContainers", index, "dataLoader", "volume"],
                "UndefinedVolume",
                f"dataLoader.volume names volume {init.data_loader.volume!r}, which is not in "
                f"spec.volumes (defined: {defined}): add an emptyDir volume of that name or "
                "fix the name",
            )


def mounts_of(spec: PodPatternSpec, name: str) -> list[tuple[list[Part], str, str]]:
    """(path in the spec, volume, mountPath) of every mount container `name` gets: its own
    volumeMounts, then the shared volumes that include it."""
    mounts: list[tuple[list[Part], str, str]] = []
    for parts, entry, entry_name in _entries(spec):
        if entry_name == name:
            for position, mount in enumerate(entry.volume_mounts or []):
                mounts.append(
                    ([*parts, "volumeMounts", position, "mountPath"], mount.name, mount.mount_path)
                )
            break
    for index, volume in enumerate(spec.volumes):
        if volume.containers is None or name in volume.containers:
            mounts.append((["spec", "volumes", index, "mountPath"], volume.name, volume.mount_path))
    return mounts


def clean_path(path: str) -> str:
    """The path a container runtime mounts at, as Go's path.Clean writes it: `/data/`,
    `//data` and `/data/./` are all /data. The API server compares mount paths as
    strings, so two spellings of one path pass it and fail only when the container starts."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("/") else cleaned


def _check_mounts(spec: PodPatternSpec, errors: _Collector) -> None:
    for _, _, name in _entries(spec):
        taken: dict[str, str] = {}
        for parts, volume, path in mounts_of(spec, name):
            normalized = clean_path(path)
            if normalized in taken:
                errors.add(
                    parts,
                    "MountPathConflict",
                    f"container {name!r} would mount both volume {taken[normalized]!r} and "
                    f"volume {volume!r} at {normalized}: give one of them another mountPath, "
                    "or leave the container out of one volume's containers",
                )
            else:
                taken[normalized] = volume


def _check_ports(spec: PodPatternSpec, errors: _Collector) -> None:
    # Containers of a Pod share one network namespace: a port can be bound only once by
    # the containers running at the same time. Plain init containers run alone, one after
    # the other, before the main container starts; native sidecars run beside them, which
    # render checks, since sidecarMode Auto depends on the server's version.
    claimed: dict[tuple[int, str], tuple[str, list[Part]]] = {}
    for parts, entry, name in _entries(spec):
        names: set[str] = set()
        alone = parts[1] == "initContainers"
        for position, port in enumerate(entry.ports or []):
            key = (port.container_port, port.protocol)
            where = [*parts, "ports", position]
            if not alone and key in claimed:
                owner, owner_parts = claimed[key]
                whom = "this container" if owner_parts == parts else f"container {owner!r}"
                errors.add(
                    [*where, "containerPort"],
                    "PortConflict",
                    f"port {port.container_port}/{port.protocol} is already used by {whom}; "
                    "containers of a Pod share one network namespace: choose another port",
                )
            elif not alone:
                claimed[key] = (name, parts)
            if port.name is not None:
                if port.name in names:
                    errors.add(
                        [*where, "name"],
                        "DuplicateName",
                        f"container {name!r} has two ports named {port.name!r}: rename one",
                    )
                names.add(port.name)


def _check_env(spec: PodPatternSpec, errors: _Collector) -> None:
    for parts, entry, name in _entries(spec):
        seen: set[str] = set()
        for position, variable in enumerate(entry.env or []):
            if variable.name in seen:
                errors.add(
                    [*parts, "env", position, "name"],
                    "DuplicateName",
                    f"container {name!r} sets {variable.name} twice: keep one entry",
                )
            seen.add(variable.name)


def _requests_gpu(entry: ContainerFields) -> bool:
    resources = entry.resources
    if resources is None:
        return False
    return any(
        GPU_RESOURCE in (amounts or {}) for amounts in (resources.limits, resources.requests)
    )


def _check_presets(spec: PodPatternSpec, errors: _Collector) -> None:
    for index, sidecar in enumerate(spec.sidecars):
        where: list[Part] = ["spec", "sidecars", index]
        if sidecar.preset == "gpu-monitor" and not _requests_gpu(spec.main):
            _gpu_missing(sidecar.name, f"spec.sidecars[{index}] uses preset gpu-monitor", errors)
        if sidecar.preset == "logging":
            _check_logging(sidecar.logging or LoggingSettings(), [*where, "logging"], errors)
        if sidecar.preset == "proxy":
            settings = sidecar.proxy or ProxySettings()
            _check_proxy_target(spec, settings, [*where, "proxy"], errors)
            _check_proxy_ports(settings, [*where, "proxy"], errors)
    for index, init in enumerate(spec.init_containers):
        if init.data_loader is not None:
            _check_data_loader(spec, index, init.name, init.data_loader.volume, errors)


def _gpu_missing(sidecar: str, how: str, errors: _Collector) -> None:
    errors.add(
        ["spec", "main", "resources", "limits"],
        "GPURequestMissing",
        f"sidecar {sidecar!r} ({how}) needs the main container to request a GPU, whose "
        f"metrics it exports: add resources.limits[{GPU_RESOURCE}] to spec.main",
    )


def _check_logging(settings: LoggingSettings, where: list[Part], errors: _Collector) -> None:
    # The folder becomes a mount path in the main container, and the folder and the
    # paths become lines of the agent's generated configuration.
    problem: str | None
    for problem in (folder_problem(settings.dir), config_value_problem(settings.dir)):
        if problem:
            errors.add(
                [*where, "dir"],
                "InvalidSpec",
                f"logging.dir {problem} (the log volume is mounted there in the main container)",
            )
            break
    fluent_bit = settings.agent == "fluent-bit"
    for position, path in enumerate(settings.paths):
        parts = [part for part in path.split("/") if part]
        unsafe = config_value_problem(path, list_separator=fluent_bit)
        if unsafe:
            problem = f"logging.paths entry {path!r} {unsafe}"
        elif path.startswith("/"):
            problem = (
                f"logging.paths entry {path!r} is absolute; entries are relative to "
                f"logging.dir ({settings.dir}): write it as {path.rsplit('/', 1)[-1]!r} or "
                "a glob such as '*.log'"
            )
        elif ".." in parts or not parts:
            problem = (
                f"logging.paths entry {path!r} must name files inside logging.dir "
                f"({settings.dir}), the only folder the sidecar can read: remove '..'"
            )
        else:
            continue
        errors.add([*where, "paths", position], "InvalidSpec", problem)
    output = settings.output
    if output.type == "forward" and settings.agent != "fluent-bit":
        errors.add(
            [*where, "output", "type"],
            "InvalidSpec",
            "logging.output.type forward (the Fluentd forward protocol) needs logging.agent: "
            "fluent-bit; OpenTelemetry Collector ships over otlp or http",
        )
    if output.type != "stdout" and output.endpoint is not None:
        unsafe = config_value_problem(output.endpoint.strip())
        try:
            if unsafe:
                raise ValueError(f"{output.endpoint.strip()!r} {unsafe}")
            parse_endpoint(output.type, output.endpoint)
        except ValueError as error:
            errors.add(
                [*where, "output", "endpoint"],
                "InvalidSpec",
                f"logging.output.endpoint {error}",
            )


def _check_proxy_target(
    spec: PodPatternSpec, settings: ProxySettings, where: list[Part], errors: _Collector
) -> None:
    if settings.target_port is None and not spec.main.ports:
        errors.add(
            [*where, "targetPort"],
            "InvalidSpec",
            "the proxy needs a port of the main container to forward to: set "
            "proxy.targetPort, or add a port to spec.main.ports",
        )


def _check_proxy_ports(settings: ProxySettings, where: list[Part], errors: _Collector) -> None:
    if settings.target_port is not None and settings.target_port == settings.port:
        errors.add(
            [*where, "targetPort"],
            "InvalidSpec",
            f"proxy.targetPort and proxy.port are both {settings.port}: the proxy would "
            "forward to itself; set targetPort to the main container's port",
        )


def _check_data_loader(
    spec: PodPatternSpec, index: int, name: str, volume_name: str, errors: _Collector
) -> None:
    where: list[Part] = ["spec", "initContainers", index, "dataLoader", "volume"]
    for position, volume in enumerate(spec.volumes):
        if volume.name != volume_name:
            continue
        folder = folder_problem(volume.mount_path)
        if folder:
            errors.add(
                ["spec", "volumes", position, "mountPath"],
                "InvalidSpec",
                f"init container {name!r} fills this volume (dataLoader.volume), mounted at "
                f"mountPath {folder}",
            )
        if name in volume.read_only:
            errors.add(
                ["spec", "volumes", position, "readOnly", volume.read_only.index(name)],
                "InvalidSpec",
                f"init container {name!r} fills this volume (dataLoader.volume), so it must "
                f"mount it read-write: remove {name!r} from readOnly",
            )
        source = next(
            (
                label
                for label, field in (("configMap", "config_map"), ("secret", "secret"))
                if has(volume, field)
            ),
            None,
        )
        if source is not None:
            errors.add(
                where,
                "InvalidSpec",
                f"dataLoader.volume names volume {volume_name!r}, a {source} volume, which "
                "Kubernetes mounts read-only: fill an emptyDir, ephemeral or "
                "persistentVolumeClaim volume instead",
            )


def _check_profiles(
    spec: PodPatternSpec, profiles: Mapping[str, SidecarProfile] | None, errors: _Collector
) -> None:
    if profiles is None:
        return
    known = ", ".join(sorted(profiles)) or "none"
    for index, sidecar in enumerate(spec.sidecars):
        if sidecar.profile is None:
            continue
        where: list[Part] = ["spec", "sidecars", index, "profile"]
        profile = profiles.get(sidecar.profile)
        if profile is None:
            errors.add(
                where,
                PROFILE_NOT_FOUND,
                f"there is no SidecarProfile named {sidecar.profile!r} (there are: {known}): "
                "fix the name, or ask the platform team to create it; the PodPattern becomes "
                "valid as soon as it exists",
            )
            continue
        # A profile stored before a rule existed, or written around the API server's
        # checks, must not slip privileges or a broken preset into the Pod.
        for problem in check_profile(profile):
            errors.add(
                where,
                problem.reason,
                f"SidecarProfile {sidecar.profile!r} cannot be used: {problem.path}: "
                f"{problem.message.removeprefix('SidecarProfile: ')}; ask the platform team "
                "to fix it",
            )
        if profile.spec.preset == "gpu-monitor" and not _requests_gpu(spec.main):
            _gpu_missing(
                sidecar.name,
                f"spec.sidecars[{index}] uses SidecarProfile {sidecar.profile!r}, preset "
                "gpu-monitor",
                errors,
            )
        if profile.spec.preset == "proxy":
            _check_proxy_target(
                spec, profile.spec.proxy or ProxySettings(), ["spec", "sidecars", index], errors
            )


_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not re.fullmatch(DNS_SUBDOMAIN_PATTERN, prefix)):
        return f"the prefix {prefix!r} must be a DNS subdomain such as example.com"
    if len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return (
            f"the name {name!r} must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _check_pod_metadata(spec: PodPatternSpec, errors: _Collector) -> None:
    for field, entries in (("labels", spec.pod.labels), ("annotations", spec.pod.annotations)):
        for key, value in (entries or {}).items():
            where: list[Part] = ["spec", "pod", field, key]
            if key.startswith(RESERVED_PREFIX):
                errors.add(
                    where,
                    "ReservedKey",
                    f"{key} is under {RESERVED_PREFIX}, which the operator manages: choose "
                    "another key",
                )
                continue
            # The API server checks annotation keys lowercased (ValidateAnnotations).
            problem = _key_problem(key if field == "labels" else key.lower())
            if problem:
                errors.add(where, "InvalidLabel", f"the key {key!r} is invalid: {problem}")
            elif field == "labels" and (len(value) > 63 or not _LABEL_VALUE.fullmatch(value)):
                errors.add(
                    where,
                    "InvalidLabel",
                    f"the value {value!r} of label {key} must be at most 63 letters, digits, "
                    "'-', '_' or '.', starting and ending with a letter or digit",
                )


def _check_service(
    spec: PodPatternSpec, profiles: Mapping[str, SidecarProfile] | None, errors: _Collector
) -> None:
    if spec.service is None:
        return

    def is_proxy(sidecar: Sidecar) -> bool:
        if sidecar.preset == "proxy":
            return True
        if sidecar.profile is None:
            return False
        # Without the profiles (a file checked offline) a profile may well be a proxy.
        profile = profiles.get(sidecar.profile) if profiles is not None else None
        return profiles is None or (profile is not None and profile.spec.preset == "proxy")

    has_proxy = any(is_proxy(sidecar) for sidecar in spec.sidecars)
    if not has_proxy and not spec.main.ports:
        errors.add(
            ["spec", "service"],
            "InvalidSpec",
            "the Service needs a port to target: add a port to spec.main.ports or a sidecar "
            "with preset: proxy, or remove spec.service",
        )


def _check_workload(spec: PodPatternSpec, errors: _Collector) -> None:
    workload = spec.workload
    if workload.kind in ("StatefulSet", "DaemonSet") and workload.rollout.max_unavailable in (
        0,
        "0%",
    ):
        # These kinds have no maxSurge (v1alpha1 refuses it): a new Pod can only take the
        # place of one taken down, and the API server refuses 0.
        errors.add(
            ["spec", "workload", "rollout", "maxUnavailable"],
            "InvalidSpec",
            f"maxUnavailable 0 would stop a {workload.kind} from ever replacing a Pod: it "
            "updates by taking Pods down, without surge. Allow at least 1 (or a percentage)",
        )
    elif has(workload, "rollout"):
        rollout = workload.rollout
        if rollout.max_unavailable in (0, "0%") and rollout.max_surge in (0, "0%"):
            errors.add(
                ["spec", "workload", "rollout"],
                "InvalidSpec",
                "maxUnavailable and maxSurge are both 0, so a rollout could never make "
                "progress: allow at least one of them",
            )


def check_fields(
    spec: PodPatternSpec, profiles: Mapping[str, SidecarProfile] | None, errors: _Collector
) -> None:
    """Kubernetes' rules for single fields (podpatterns.api.fields), as the API server
    applies them to the rendered objects."""

    def privileged(sidecar: Sidecar) -> bool | None:
        profile = profiles.get(sidecar.profile or "") if profiles is not None else None
        if profile is None:
            return None
        context = profile.spec.container.security_context if profile.spec.container else None
        return bool(context and context.privileged)

    for parts, reason, message in field_problems(spec, privileged):
        errors.add(parts, reason, message)
    for parts, reason, message in scheduling_problems(spec.pod):
        errors.add(parts, reason, message)
    for parts, reason, message in pod_rule_problems(spec):
        errors.add(parts, reason, message)


# --- warnings ----------------------------------------------------------------------------


def warnings(pattern: PodPattern) -> list[FieldError]:
    """What is valid but probably not meant: reported by `podpatterns validate` without
    failing it. Today: sidecars that keep a Job from completing."""
    found: list[FieldError] = []
    spec = pattern.spec
    if spec.workload.kind in ("Job", "CronJob") and spec.sidecar_mode == "Legacy" and spec.sidecars:
        names = ", ".join(repr(sidecar.name) for sidecar in spec.sidecars)
        found.append(
            FieldError(
                "spec.sidecarMode",
                "SidecarsBlockCompletion",
                f"sidecarMode Legacy runs sidecar {names} as ordinary containers of the "
                f"{spec.workload.kind}'s Pods: a Pod finishes only when every container has "
                "exited, so a sidecar that runs until stopped keeps the Job from ever "
                "completing. Set sidecarMode to Native (or Auto, on Kubernetes 1.29 and "
                "newer), or make each sidecar exit once the main container is done",
            )
        )
    return found
