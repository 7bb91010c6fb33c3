"""What the operator asks of the API server, derived from its code (see test_rbac.py)."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.deploy.manifests import base_documents, container, find

Permission = tuple[str, str, str, str]
"""(apiGroup, resource[/subresource], verb, resourceName or "")."""

RUN_ENTRY = "podpatterns.controller.handlers"
NOT_API_CALLS = {"request", "close", "connect", "configuration"}


# --- 1. the operator's own client ------------------------------------------------------


def _module_path(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def reachable_modules(entry: str = RUN_ENTRY) -> dict[str, ast.Module]:
    """The podpatterns modules `podpatterns run` can execute: the handlers and everything
    they import, at module level or inside a function."""
    seen: dict[str, ast.Module] = {}
    queue = [entry]
    while queue:
        name = queue.pop()
        if name in seen or not (name == "podpatterns" or name.startswith("podpatterns.")):
            continue
        path = _module_path(name)
        if path is None:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        seen[name] = tree
        # Importing a module runs its packages' __init__ first.
        queue += [name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                queue += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                queue.append(node.module)
                # `from package import module` imports a module too.
                queue += [f"{node.module}.{alias.name}" for alias in node.names]
    return seen


def api_methods() -> dict[str, Any]:
    from podpatterns.controller.kube import KubeApi

    return {
        name: member
        for name, member in inspect.getmembers(KubeApi, inspect.isfunction)
        if not name.startswith("_") and name not in NOT_API_CALLS
    }


def used_api_methods() -> set[str]:
    methods = api_methods()
    used: set[str] = set()
    for tree in reachable_modules().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in methods:
                used.add(node.attr)
    return used


# Classes that send raw requests on the operator's client themselves, with the arguments
# that make them address each resource they serve: {module: (class, kinds table)}.
REQUEST_CLIENTS = {
    "podpatterns.controller.workloads": ("WorkloadClient", "RESOURCES"),
    "podpatterns.controller.owned": ("OwnedClient", "PATHS"),
}


def _is_super(receiver: ast.expr) -> bool:
    """`super()`: a client wrapping KubeApi.request passes each request on unchanged."""
    return (
        isinstance(receiver, ast.Call)
        and isinstance(receiver.func, ast.Name)
        and receiver.func.id == "super"
    )


def direct_requests() -> list[str]:
    """Calls of `.request(...)` on any client (`api.request`, `self._api.request`) outside
    kube.py and outside the REQUEST_CLIENTS, whose paths are built at run time: nothing
    here could tell what they ask for."""
    sites = []
    for name, tree in reachable_modules().items():
        if name == "podpatterns.controller.kube":
            continue
        allowed = REQUEST_CLIENTS.get(name, ("", ""))[0]
        exempt = [
            range(node.lineno, (node.end_lineno or node.lineno) + 1)
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name == allowed
        ]
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "request"
                and not _is_super(node.func.value)
                and not any(node.lineno in lines for lines in exempt)
            ):
                sites.append(f"{name}:{node.lineno}")
    return sorted(sites)


Request = tuple[str, str, dict[str, str], str]
"""(method, path, query, content type)."""


class _Recorder:
    """Stands in for KubeApi.request: records what would be sent."""

    def __init__(self) -> None:
        self.calls: list[Request] = []

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Iterable[tuple[str, str]] = (),
        body: object = None,
        content_type: str = "application/json",
    ) -> Any:
        self.calls.append((method, path, dict(query), content_type))
        return {"items": [], "major": "1", "minor": "37"}


def _recording_api() -> tuple[Any, _Recorder]:
    from podpatterns.controller.kube import KubeApi

    recorder = _Recorder()
    api = KubeApi.__new__(KubeApi)
    api.request = recorder.request  # type: ignore[method-assign]
    return api, recorder


def _call(function: Any, owner: Any, fill: Mapping[str, Any]) -> None:
    arguments = []
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        if parameter.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            continue
        if parameter.default is not parameter.empty:
            break
        if parameter.name in fill:
            arguments.append(fill[parameter.name])
        elif "Mapping" in str(parameter.annotation):
            arguments.append({})
        else:
            arguments.append("x")
    # The dummy answer need not make sense to the caller; the request is what counts.
    with contextlib.suppress(ValueError, KeyError, TypeError):
        function(owner, *arguments)


def requests_of(method_name: str) -> list[Request]:
    api, recorder = _recording_api()
    body = {"metadata": {"namespace": "ns", "name": "name"}}
    _call(api_methods()[method_name], api, {"body": body})
    assert recorder.calls, f"KubeApi.{method_name} sent no request with dummy arguments"
    return recorder.calls


def client_class_requests() -> list[Request]:
    """Every public method of each REQUEST_CLIENTS class, once per kind it serves."""
    requests: list[Request] = []
    for module_name, (class_name, table_name) in REQUEST_CLIENTS.items():
        if module_name not in reachable_modules():
            continue
        module = importlib.import_module(module_name)
        client_class = getattr(module, class_name)
        for kind in getattr(module, table_name):
            for name, method in inspect.getmembers(client_class, inspect.isfunction):
                if name.startswith("_"):
                    continue
                api, recorder = _recording_api()
                obj = {"kind": kind, "metadata": {"namespace": "ns", "name": "name"}}
                _call(method, client_class(api), {"kind": kind, "obj": obj, "body": obj})
                assert recorder.calls, f"{class_name}.{name}({kind}) sent no request"
                requests += recorder.calls
    return requests


def authorization_of(
    method: str, path: str, query: Mapping[str, str], content_type: str = "application/json"
) -> set[Permission]:
    """The RBAC attributes of a request, as the API server checks them; nothing for a
    non-resource URL such as /version, which every authenticated user may read."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return set()
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    named = len(rest) > 1
    if method == "GET":
        verbs = {"watch" if query.get("watch") in ("true", "1") else ("get" if named else "list")}
    elif method == "DELETE":
        verbs = {"delete" if named else "deletecollection"}
    elif method == "PATCH" and content_type.startswith("application/apply-patch"):
        # Server-side apply creates the object when it is missing, and the API server
        # then checks `create` as well.
        verbs = {"patch", "create"}
    else:
        verbs = {{"POST": "create", "PUT": "update", "PATCH": "patch"}[method]}
    return {(group, resource, verb, "") for verb in verbs}


def client_permissions() -> set[Permission]:
    calls = [call for name in used_api_methods() for call in requests_of(name)]
    calls += client_class_requests()
    return {permission for call in calls for permission in authorization_of(*call)}


# --- 2. and 3. Kopf ----------------------------------------------------------------------


def kopf_watch_permissions() -> set[Permission]:
    from podpatterns.controller.handlers import build_registry

    registry = build_registry()
    permissions: set[Permission] = set()
    reading = [*registry._indexing.get_all_handlers(), *registry._watching.get_all_handlers()]
    # Change handlers and daemons keep their state (and finalizers) on the object itself.
    writing = [*registry._changing.get_all_handlers(), *registry._spawning.get_all_handlers()]
    for handler, verbs in [(h, ("list", "watch")) for h in reading] + [
        (h, ("list", "watch", "patch")) for h in writing
    ]:
        selector = handler.selector
        assert selector is not None
        plural = selector.plural or selector.any_name
        assert plural, f"cannot tell the resource of {selector!r}"
        permissions |= {(selector.group or "", plural, verb, "") for verb in verbs}
    return permissions


def _sets_scanning_disabled(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "disabled"
                    and isinstance(target.value, ast.Attribute)
                    and target.value.attr == "scanning"
                ):
                    return True
    return False


def _flag(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def operator_args() -> list[str]:
    deployment = find(base_documents(), "Deployment")
    return [str(arg) for arg in container(deployment, "operator").get("args", [])]


def kopf_framework_permissions() -> set[Permission]:
    import kopf

    args = operator_args()
    clusterwide = _flag(args, "--namespace", "-n") is None
    permissions: set[Permission] = set()
    peering = _flag(args, "--peering")
    if peering is not None:
        plural = "clusterkopfpeerings" if clusterwide else "kopfpeerings"
        permissions |= {
            ("kopf.dev", plural, "list", ""),
            ("kopf.dev", plural, "watch", ""),
            ("kopf.dev", plural, "patch", peering),
        }
    disabled = kopf.OperatorSettings().scanning.disabled or any(
        _sets_scanning_disabled(tree) for tree in reachable_modules().values()
    )
    if not disabled:
        crds = ("apiextensions.k8s.io", "customresourcedefinitions")
        permissions |= {(*crds, "list", ""), (*crds, "watch", "")}
        if not clusterwide:
            permissions |= {("", "namespaces", "list", ""), ("", "namespaces", "watch", "")}
    return permissions


# --- 4. admission ----------------------------------------------------------------------


def admission_permissions() -> set[Permission]:
    from podpatterns.api.v1alpha1 import PodPattern
    from podpatterns.render.meta import owner_reference

    pattern = PodPattern.model_validate(
        {
            "apiVersion": "podpatterns.dev/v1alpha1",
            "kind": "PodPattern",
            "metadata": {"name": "x", "namespace": "ns", "uid": "u"},
            "spec": {"main": {"image": "i"}},
        }
    )
    reference = owner_reference(pattern)
    if not reference.get("blockOwnerDeletion"):
        return set()
    group = str(reference["apiVersion"]).split("/")[0]
    return {(group, "podpatterns/finalizers", "update", "")}


def derived_permissions() -> set[Permission]:
    return (
        client_permissions()
        | kopf_watch_permissions()
        | kopf_framework_permissions()
        | admission_permissions()
    )


def granted_permissions() -> set[Permission]:
    role = find(base_documents(), "ClusterRole")
    granted: set[Permission] = set()
    for rule in role["rules"]:
        names = rule.get("resourceNames") or [""]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    granted |= {(group, resource, verb, name) for name in names}
    return granted


def show(permissions: Iterable[Permission]) -> str:
    return "\n".join(
        f"  {verb} {group or 'core'}/{resource}" + (f" (name {name})" if name else "")
        for group, resource, verb, name in sorted(permissions)
    )
