"""Kubernetes' own rules for single fields, checked offline as the API server checks them.

The CRD's schema catches the shape of a PodPattern; these catch what Kubernetes refuses
when the rendered Pod (or workload) is created: quantities and resource names, mounts,
tolerations, cron schedules and time zones, and the field names inside the blocks the
models pass through as written (probes, lifecycle hooks, env valueFrom, affinity). Each
function mirrors a function of k8s.io/kubernetes/pkg/apis/core/validation (or batch, or
robfig/cron for schedules) and yields (path, reason, message) for
`podpatterns.api.validation` to report.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

import kubernetes.client

from podpatterns.api.v1alpha1.base import PORT_NAME_PATTERN, quantity_value
from podpatterns.api.v1alpha1.container import ContainerFields, Sidecar
from podpatterns.api.v1alpha1.podpattern import CronSettings, PodPatternSpec, Toleration
from podpatterns.api.v1alpha1.presets import DNS_SUBDOMAIN_PATTERN

Part = str | int
Problem = tuple[list[Part], str, str]

QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def qualified_name_problem(key: str) -> str | None:
    """Kubernetes' IsQualifiedName: an optional DNS-subdomain prefix and a name."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253
                  or not re.fullmatch(DNS_SUBDOMAIN_PATTERN, prefix)):
        return f"the prefix {prefix!r} must be a DNS subdomain such as example.com"
    if len(name) > 63 or not QUALIFIED_NAME.fullmatch(name):
        return (
            f"the name {name!r} must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63 or not LABEL_VALUE.fullmatch(value):
        return (
            f"{value!r} must be at most 63 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit"
        )
    return None


# --- resources ---------------------------------------------------------------------------

_STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_HUGEPAGES = "hugepages-"


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    # Extended resources (nvidia.com/gpu) and huge pages are handed out whole: their
    # requests must equal their limits.
    return _is_native(name) and not name.startswith(_HUGEPAGES)


def _resource_name_problem(name: str) -> str | None:
    problem = qualified_name_problem(name)
    if problem:
        return f"the resource name {name!r} is invalid: {problem}"
    if "/" not in name:
        if name in _STANDARD_RESOURCES or name.startswith(_HUGEPAGES):
            return None
        return (
            f"{name!r} is not a container resource: use cpu, memory, ephemeral-storage, "
            "hugepages-<size>, or an extended resource with its domain, such as "
            "nvidia.com/gpu"
        )
    if not _is_native(name) and (
        name.startswith("requests.") or qualified_name_problem("requests." + name)
    ):
        return f"{name!r} is not a valid extended resource name"
    return None


def _page_size(name: str) -> Fraction | None:
    try:
        size = quantity_value(name[len(_HUGEPAGES):])
    except ValueError:
        return None
    return size if size > 0 else None


def _amount_problems(
    name: str, amount: Fraction, where: list[Part], side: str
) -> Iterator[Problem]:
    if amount < 0:
        yield where, "InvalidResources", f"{side}[{name}] must not be negative"
    if not _is_native(name) and amount.denominator != 1:
        yield (
            where,
            "InvalidResources",
            f"{side}[{name}] must be a whole number: an extended resource such as a GPU "
            "cannot be shared in fractions",
        )
    if name.startswith(_HUGEPAGES):
        size = _page_size(name)
        if size is None:
            yield where, "InvalidResources", f"{name!r} does not name a page size such as 2Mi"
        elif amount >= 0 and (amount / size).denominator != 1:
            yield (
                where,
                "InvalidResources",
                f"{side}[{name}] must be a whole multiple of its page size",
            )


def resource_problems(entry: ContainerFields, parts: list[Part]) -> Iterator[Problem]:
    """ValidateContainerResourceRequirements."""
    resources = entry.resources
    if resources is None:
        return
    base = [*parts, "resources"]
    limits = {name: quantity_value(value) for name, value in (resources.limits or {}).items()}
    requests = {name: quantity_value(value) for name, value in (resources.requests or {}).items()}
    for side, amounts in (("limits", limits), ("requests", requests)):
        for name, amount in amounts.items():
            where = [*base, side, name]
            problem = _resource_name_problem(name)
            if problem:
                yield where, "InvalidResources", problem
                continue
            yield from _amount_problems(name, amount, where, side)
    for name, amount in requests.items():
        where = [*base, "requests", name]
        limit = limits.get(name)
        if limit is None:
            if not _overcommit_allowed(name):
                yield (
                    [*base, "limits"],
                    "InvalidResources",
                    f"requests[{name}] needs limits[{name}] with the same amount: {name} "
                    "cannot be overcommitted",
                )
        elif not _overcommit_allowed(name) and amount != limit:
            yield (
                where,
                "InvalidResources",
                f"requests[{name}] must equal limits[{name}]: {name} cannot be overcommitted",
            )
        elif amount > limit:
            yield (
                where,
                "InvalidResources",
                f"requests[{name}] is more than limits[{name}]: lower the request or raise "
                "the limit",
            )
    names = {*limits, *requests}
    if any(name.startswith(_HUGEPAGES) for name in names) and not names & {"cpu", "memory"}:
        yield base, "InvalidResources", "huge pages need a cpu or memory request or limit too"


# --- mounts ------------------------------------------------------------------------------


def mount_problems(
    entry: ContainerFields, parts: list[Part], privileged: bool | None
) -> Iterator[Problem]:
    """The mount rules that need the container: Bidirectional propagation. `privileged`
    None means unknown (a profile not at hand), which gives it the benefit of the doubt."""
    for position, mount in enumerate(entry.volume_mounts or []):
        if mount.mount_propagation == "Bidirectional" and privileged is False:
            yield (
                [*parts, "volumeMounts", position, "mountPropagation"],
                "PrivilegeNotAllowed",
                "mountPropagation Bidirectional is available only to privileged containers, "
                "which only a SidecarProfile can grant: use HostToContainer or None",
            )


def volume_problems(spec: PodPatternSpec) -> Iterator[Problem]:
    """validateKeyToPath (the files a ConfigMap or Secret volume projects stay inside it),
    and the sizes of emptyDirs and claims."""
    for index, volume in enumerate(spec.volumes):
        where: list[Part] = ["spec", "volumes", index]
        size = volume.empty_dir.size_limit if volume.empty_dir else None
        if size is not None and quantity_value(size) < 0:
            yield [*where, "emptyDir", "sizeLimit"], "InvalidSpec", "sizeLimit must not be negative"
        for field, claim in (("claimTemplate", volume.claim_template),
                             ("ephemeral", volume.ephemeral)):
            if claim is not None and quantity_value(claim.resources.requests.storage) <= 0:
                yield (
                    [*where, field, "resources", "requests", "storage"],
                    "InvalidSpec",
                    f"{field}.resources.requests.storage must be more than 0, such as 10Gi",
                )

        for field, source in (("configMap", volume.config_map), ("secret", volume.secret)):
            for position, item in enumerate((source.items or []) if source else []):
                steps = item.path.split("/")
                if item.path.startswith("/") or ".." in steps or item.path.startswith(".."):
                    yield (
                        ["spec", "volumes", index, field, "items", position, "path"],
                        "InvalidSpec",
                        f"items[].path {item.path!r} must be a relative path inside the "
                        "volume, without '..'",
                    )


# --- tolerations -------------------------------------------------------------------------


def toleration_problems(tolerations: Sequence[Toleration]) -> Iterator[Problem]:
    """ValidateTolerations."""
    for index, toleration in enumerate(tolerations):
        where: list[Part] = ["spec", "pod", "tolerations", index]
        key = toleration.key or ""
        operator = toleration.operator or "Equal"
        if key:
            problem = qualified_name_problem(key)
            if problem:
                yield [*where, "key"], "InvalidSpec", f"the key {key!r} is invalid: {problem}"
        elif operator != "Exists":
            yield (
                [*where, "operator"],
                "InvalidSpec",
                "a toleration without a key matches every taint, so its operator must be "
                "Exists: set operator: Exists, or give a key",
            )
        if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
            yield (
                [*where, "effect"],
                "InvalidSpec",
                "tolerationSeconds applies to effect NoExecute only: set effect: NoExecute, "
                "or remove tolerationSeconds",
            )
        value = toleration.value or ""
        if operator == "Exists" and value:
            yield (
                [*where, "value"],
                "InvalidSpec",
                "operator Exists matches any value: remove value, or use operator Equal",
            )
        elif operator == "Equal":
            problem = label_value_problem(value)
            if problem:
                yield [*where, "value"], "InvalidSpec", f"the value {problem}"


# --- cron --------------------------------------------------------------------------------

# (lowest, highest, names) of minute, hour, day of month, month and day of week.
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    ("day of week", 0, 6, {name: i for i, name in enumerate(
        ("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def _cron_number(text: str, names: Mapping[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not _GO_INT.fullmatch(text) or int(text) < 0:
        raise ValueError(f"{text!r} is not a number")
    return int(text)


def _cron_range(expr: str, low: int, high: int, names: Mapping[str, int]) -> None:
    range_and_step = expr.split("/")
    bounds = range_and_step[0].split("-")
    if bounds[0] in ("*", "?"):
        start, end = low, high
    else:
        if len(bounds) > 2:
            raise ValueError(f"too many hyphens in {expr!r}")
        start = _cron_number(bounds[0], names)
        end = _cron_number(bounds[1], names) if len(bounds) == 2 else start
    if len(range_and_step) > 2:
        raise ValueError(f"too many slashes in {expr!r}")
    if len(range_and_step) == 2:
        if _cron_number(range_and_step[1], {}) == 0:
            raise ValueError(f"the step of {expr!r} must be positive")
        if len(bounds) == 1:
            end = high
    if start < low or end > high:
        raise ValueError(f"{expr!r} is outside {low}-{high}")
    if start > end:
        raise ValueError(f"{expr!r} starts after it ends")


def _go_duration(text: str) -> bool:
    """Whether Go's time.ParseDuration accepts `text`."""
    rest = text[1:] if text[:1] in "+-" else text
    if rest == "0":
        return True
    if not rest:
        return False
    position = 0
    while position < len(rest):
        match = _GO_DURATION_PART.match(rest, position)
        if match is None or match.group(1) in ("", "."):
            return False
        position = match.end()
    return True


def schedule_problem(schedule: str) -> str | None:
    """What robfig/cron's ParseStandard (which the API server uses) says, or None."""
    if "TZ" in schedule:
        return "a schedule may not set TZ or CRON_TZ: use cron.timeZone instead"
    if schedule.startswith("@"):
        if schedule in _CRON_MACROS:
            return None
        if schedule.startswith("@every "):
            if _go_duration(schedule[len("@every "):]):
                return None
            return "@every needs a duration such as 5m, 1h30m or 90s"
        return f"unknown macro: use one of {', '.join(_CRON_MACROS)} or @every <duration>"
    fields = schedule.split()
    if len(fields) != 5:
        return f"needs exactly five fields, not {len(fields)}"
    for text, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for expr in (part for part in text.split(",") if part):
            try:
                _cron_range(expr, low, high, names)
            except ValueError as error:
                return f"the {label} field: {error}"
    return None


_TIME_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def time_zone_problem(name: str) -> str | None:
    """validateTimeZone: an IANA name the API server's time zone database knows."""
    if name == "":
        return "must not be empty: remove it, or name a zone such as Europe/Berlin"
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TIME_ZONE_PART.fullmatch(part):
            return f"{name!r} is not a time zone: name one such as Europe/Berlin or UTC"
    if name.lower() == "local":
        return "must name a zone explicitly, such as Europe/Berlin or UTC, not Local"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"{name!r} is not in the IANA time zone database: name one such as Europe/Berlin"
    return None


def cron_problems(cron: CronSettings) -> Iterator[Problem]:
    where: list[Part] = ["spec", "workload", "cron"]
    problem = schedule_problem(cron.schedule)
    if problem:
        yield (
            [*where, "schedule"],
            "InvalidSpec",
            f"the schedule {cron.schedule!r} is invalid: {problem}. Write five fields (minute hour "
            "day-of-month month day-of-week) such as '*/5 * * * *', or a macro such as "
            "@hourly or '@every 5m'",
        )
    if cron.time_zone is not None:
        problem = time_zone_problem(cron.time_zone)
        if problem:
            yield [*where, "timeZone"], "InvalidSpec", f"cron.timeZone {problem}"


# --- blocks passed through as written ------------------------------------------------------

_SCALARS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "object": lambda v: True,
    "datetime": lambda v: isinstance(v, str),
}
# Quantities are typed str in the client but are int-or-string in the API.
_QUANTITY_FIELDS = frozenset({"divisor"})


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _model(name: str) -> Any:
    return getattr(kubernetes.client, name, None)


def free_form_problems(value: Any, type_name: str, parts: list[Part]) -> Iterator[Problem]:
    """Unknown fields and wrong types inside a core/v1 block, checked against the
    Kubernetes client's description of the type: what strict field validation refuses."""
    if type_name.startswith("List["):
        if not isinstance(value, list):
            yield parts, "InvalidSpec", f"{_last(parts)} must be a list"
            return
        for index, item in enumerate(value):
            yield from free_form_problems(item, type_name[5:-1], [*parts, index])
        return
    if type_name.startswith("Dict["):
        if not isinstance(value, dict):
            yield parts, "InvalidSpec", f"{_last(parts)} must be a mapping"
            return
        item_type = type_name[5:-1].split(",", 1)[1].strip()
        for key, item in value.items():
            yield from free_form_problems(item, item_type, [*parts, key])
        return
    if type_name in _SCALARS:
        ok = _SCALARS[type_name](value) or (
            type_name == "str" and _last(parts) in _QUANTITY_FIELDS and isinstance(value, int)
        )
        if not ok:
            yield parts, "InvalidSpec", f"{_last(parts)} must be of type {_TYPE_WORDS[type_name]}"
        return
    model = _model(type_name)
    if model is None:
        return
    if not isinstance(value, dict):
        yield parts, "InvalidSpec", f"{_last(parts)} must be a mapping of fields"
        return
    fields = {wire: model.openapi_types[attr] for attr, wire in model.attribute_map.items()}
    for key, item in value.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "remove it"
            yield [*parts, key], "UnknownField", f"{key} is not a known field: {hint}"
        else:
            yield from free_form_problems(item, fields[key], [*parts, key])


_TYPE_WORDS = {
    "str": "string",
    "int": "integer",
    "bool": "boolean (true or false)",
    "float": "number",
    "datetime": "string",
}


def _last(parts: Sequence[Part]) -> str:
    return str(parts[-1]) if parts else "it"


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")


def _handler_problem(block: Mapping[str, Any], what: str) -> str | None:
    given = [name for name in _HANDLERS if name in block]
    if not given:
        return f"{what} needs a handler: set one of exec, httpGet, tcpSocket or grpc"
    if len(given) > 1:
        return f"{what} takes one handler, not {' and '.join(given)}: remove all but one"
    return None


_CONTAINER_BLOCKS = (
    ("livenessProbe", "liveness_probe", "V1Probe"),
    ("readinessProbe", "readiness_probe", "V1Probe"),
    ("startupProbe", "startup_probe", "V1Probe"),
    ("lifecycle", "lifecycle", "V1Lifecycle"),
)


def container_block_problems(entry: ContainerFields, parts: list[Part]) -> Iterator[Problem]:
    for name, attribute, type_name in _CONTAINER_BLOCKS:
        block = getattr(entry, attribute)
        if block is None:
            continue
        found = list(free_form_problems(block, type_name, [*parts, name]))
        yield from found
        if found:
            continue
        if type_name == "V1Probe":
            problem = _handler_problem(block, name)
            if problem:
                yield [*parts, name], "InvalidSpec", problem
            yield from _probe_problems(block, name, [*parts, name])
        else:
            for hook in ("postStart", "preStop"):
                if hook in block:
                    problem = _handler_problem(block[hook], f"lifecycle.{hook}")
                    if problem:
                        yield [*parts, name, hook], "InvalidSpec", problem
    for position, variable in enumerate(entry.env or []):
        if variable.value_from is not None:
            yield from free_form_problems(
                variable.value_from, "V1EnvVarSource", [*parts, "env", position, "valueFrom"]
            )


def _port_problem(port: Any) -> str | None:
    if isinstance(port, bool) or not isinstance(port, int | str):
        return "must be a port number or the name of a port"
    if isinstance(port, int):
        return None if 1 <= port <= 65535 else "must be between 1 and 65535"
    if len(port) > 15 or not re.fullmatch(PORT_NAME_PATTERN, port):
        return f"{port!r} is not a port name (at most 15 lowercase letters, digits and single '-')"
    return None


# Probe fields Kubernetes requires to be >= 0 (ValidateProbe).
_PROBE_COUNTS = ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                 "failureThreshold")


def _probe_problems(probe: Mapping[str, Any], name: str, where: list[Part]) -> Iterator[Problem]:
    for field in _PROBE_COUNTS:
        if isinstance(probe.get(field), int) and probe[field] < 0:
            yield [*where, field], "InvalidSpec", f"{name}.{field} must not be negative"
    grace = probe.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace <= 0:
        yield (
            [*where, "terminationGracePeriodSeconds"],
            "InvalidSpec",
            f"{name}.terminationGracePeriodSeconds must be more than 0",
        )
    if name in ("livenessProbe", "startupProbe") and probe.get("successThreshold") not in (None, 1):
        yield [*where, "successThreshold"], "InvalidSpec", f"{name}.successThreshold must be 1"
    for handler in ("httpGet", "tcpSocket", "grpc"):
        block = probe.get(handler)
        if isinstance(block, dict) and "port" in block:
            problem = _port_problem(block["port"])
            if handler == "grpc" and isinstance(block["port"], str):
                problem = "must be a port number"
            if problem:
                yield [*where, handler, "port"], "InvalidSpec", f"{name}.{handler}.port {problem}"


# IsDNS1123SubdomainWithUnderscore, and a search domain may end with a dot.
_SEARCH_PART = r"[a-z0-9_]([-a-z0-9_]*[a-z0-9])?"
_SEARCH_DOMAIN = re.compile(rf"{_SEARCH_PART}(\.{_SEARCH_PART})*\.?")
_WINDOWS_USER_FORBIDDEN = set('"/\\:;|=,+*?<>@[]')


def _windows_problems(name: str | None, where: list[Part]) -> Iterator[Problem]:
    """validateWindowsSecurityContextOptions' rules for runAsUserName (DOMAIN\\user)."""
    if name is None:
        return
    domain, slash, user = name.rpartition("\\")
    if name == "":
        problem = "must not be empty"
    elif len(name) > 256 or len(user) > 104:
        problem = "must be at most 256 characters, with a user name of at most 104"
    elif "\\" in domain:
        problem = "may contain one backslash, between domain and user"
    elif not user or _WINDOWS_USER_FORBIDDEN & set(user):
        problem = 'needs a user name without any of "/\\:;|=,+*?<>@[]'
    elif slash and not domain:
        problem = "needs a domain before the backslash"
    else:
        return
    yield where, "InvalidSpec", f"windowsOptions.runAsUserName {problem}"


def pod_block_problems(spec: PodPatternSpec) -> Iterator[Problem]:
    pod = spec.pod
    for key, value in (pod.node_selector or {}).items():
        problem = qualified_name_problem(key) or label_value_problem(value)
        if problem:
            yield ["spec", "pod", "nodeSelector", key], "InvalidLabel", f"nodeSelector {problem}"
    for index, alias in enumerate(pod.host_aliases or []):
        if not _is_ip(alias.ip):
            yield (
                ["spec", "pod", "hostAliases", index, "ip"],
                "InvalidSpec",
                f"hostAliases ip {alias.ip!r} must be an IP address, such as 10.9.8.7",
            )
    searches = pod.dns_config.searches if pod.dns_config else None
    for index, search in enumerate(searches or []):
        if len(search) > 253 or not _SEARCH_DOMAIN.fullmatch(search):
            yield (
                ["spec", "pod", "dnsConfig", "searches", index],
                "InvalidSpec",
                f"search domain {search!r} must be lowercase letters, digits, '-', '_' and "
                "'.', each part ending with a letter or digit, such as svc.cluster.local",
            )
    if pod.security_context and pod.security_context.windows_options:
        yield from _windows_problems(
            pod.security_context.windows_options.run_as_user_name,
            ["spec", "pod", "securityContext", "windowsOptions", "runAsUserName"],
        )
    if spec.service is not None:
        for key in spec.service.annotations or {}:
            # Annotation keys are checked lowercased, as ValidateAnnotations does.
            problem = qualified_name_problem(key.lower())
            if problem:
                yield (
                    ["spec", "service", "annotations", key],
                    "InvalidLabel",
                    f"the annotation key {key!r} is invalid: {problem}",
                )
    servers = pod.dns_config.nameservers if pod.dns_config else None
    for index, server in enumerate(servers or []):
        if not _is_ip(server):
            yield (
                ["spec", "pod", "dnsConfig", "nameservers", index],
                "InvalidSpec",
                f"nameserver {server!r} must be an IP address, such as 10.96.0.10",
            )
    if pod.affinity is not None:
        yield from free_form_problems(pod.affinity, "V1Affinity", ["spec", "pod", "affinity"])
    for index, constraint in enumerate(pod.topology_spread_constraints or []):
        yield from free_form_problems(
            constraint,
            "V1TopologySpreadConstraint",
            ["spec", "pod", "topologySpreadConstraints", index],
        )


# --- everything --------------------------------------------------------------------------


def container_problems(
    entry: ContainerFields, parts: list[Part], privileged: bool | None
) -> Iterator[Problem]:
    """The field-level problems of one container entry (of a PodPattern or a profile)."""
    yield from resource_problems(entry, parts)
    yield from mount_problems(entry, parts, privileged)
    context = entry.security_context
    if context is not None and context.windows_options is not None:
        yield from _windows_problems(
            context.windows_options.run_as_user_name,
            [*parts, "securityContext", "windowsOptions", "runAsUserName"],
        )
    yield from container_block_problems(entry, parts)


def field_problems(
    spec: PodPatternSpec, privileged: Callable[[Sidecar], bool | None]
) -> Iterator[Problem]:
    """Every field-level problem of `spec`, in the order of the spec. `privileged` says
    whether a profile sidecar ends up privileged (None: not known offline)."""
    entries: list[tuple[list[Part], ContainerFields, bool | None]] = [
        (["spec", "main"], spec.main, False)
    ]
    for index, sidecar in enumerate(spec.sidecars):
        is_privileged = privileged(sidecar) if sidecar.profile is not None else False
        entries.append((["spec", "sidecars", index], sidecar, is_privileged))
    for index, init in enumerate(spec.init_containers):
        entries.append((["spec", "initContainers", index], init, False))
    for parts, entry, is_privileged in entries:
        yield from container_problems(entry, parts, is_privileged)
    yield from volume_problems(spec)
    yield from toleration_problems(spec.pod.tolerations or [])
    yield from pod_block_problems(spec)
    if spec.workload.cron is not None:
        yield from cron_problems(spec.workload.cron)
