"""The ClusterRole in deploy/ is exactly what the operator uses, derived from its code.

What `podpatterns run` asks of the API server comes from four places, each read here from
the code rather than restated:

1. its own client: every `KubeApi` method that a module reachable from the Kopf handlers
   refers to, called against a recorder and turned into (group, resource, verb) the way the
   API server's authorizer sees the request (creating the peering object among them);
2. Kopf's watches: list and watch for every resource a handler or index selects, patch for
   handler kinds that write to the objects they handle;
3. Kopf itself, as the Deployment runs it: the peering objects (`--peering`), CRD
   observation (unless scanning is disabled), namespace observation (with `--namespace`);
4. admission: ownerReferences with blockOwnerDeletion need `update` on the owner's
   finalizers where OwnerReferencesPermissionEnforcement is on.
"""

from __future__ import annotations

from tests.deploy.manifests import base_documents, find
from tests.deploy.rbac_derivation import (
    authorization_of,
    derived_permissions,
    direct_requests,
    granted_permissions,
    kopf_watch_permissions,
    reachable_modules,
    show,
    used_api_methods,
)

# --- the tests ---------------------------------------------------------------------------


def test_the_cluster_role_grants_exactly_what_the_operator_uses() -> None:
    derived, granted = derived_permissions(), granted_permissions()
    unused, missing = granted - derived, derived - granted
    assert not missing and not unused, (
        "deploy/base/rbac.yaml and the operator disagree.\n"
        f"Used but not granted:\n{show(missing) or '  -'}\n"
        f"Granted but never used:\n{show(unused) or '  -'}"
    )


def test_every_api_call_goes_through_a_named_client_method() -> None:
    # The derivation above reads KubeApi's named methods; a raw request elsewhere would
    # slip past it. Give KubeApi a method for it (then this test derives its permissions).
    assert not direct_requests(), (
        "raw KubeApi.request calls outside kube.py cannot be checked against "
        f"deploy/base/rbac.yaml: {', '.join(direct_requests())}"
    )


def test_no_wildcards_and_no_secrets() -> None:
    role = find(base_documents(), "ClusterRole")
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {field}: {rule}"
        # ConfigMaps are needed: the presets' configuration files are generated ConfigMaps,
        # which the operator applies and watches (docs/deploy.md). Secrets never are.
        assert not {"secrets", "serviceaccounts"} & set(rule["resources"]), rule
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule


def test_the_role_is_bound_to_the_operators_service_account_only() -> None:
    documents = base_documents()
    binding = find(documents, "ClusterRoleBinding")
    deployment = find(documents, "Deployment")
    account = find(documents, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "podpatterns",
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "podpatterns",
            "namespace": account["metadata"]["namespace"],
        }
    ]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "podpatterns"


# The derivation is only as good as its parts: check each against known answers.


def test_the_derivation_reads_requests_as_the_api_server_does() -> None:
    def verbs(
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> set[tuple[str, str, str]]:
        return {p[:3] for p in authorization_of(method, path, query or {}, content_type)}

    assert verbs("GET", "/api/v1/namespaces/a/pods") == {("", "pods", "list")}
    assert verbs("GET", "/api/v1/namespaces/a/pods", {"watch": "true"}) == {("", "pods", "watch")}
    assert verbs("GET", "/api/v1/namespaces/a/pods/p") == {("", "pods", "get")}
    assert verbs("DELETE", "/api/v1/namespaces/a/pods/p") == {("", "pods", "delete")}
    assert verbs(
        "PATCH",
        "/apis/podpatterns.dev/v1alpha1/namespaces/a/podpatterns/w/status",
        content_type="application/merge-patch+json",
    ) == {("podpatterns.dev", "podpatterns/status", "patch")}
    assert verbs(
        "PATCH",
        "/apis/apps/v1/namespaces/a/deployments/w",
        content_type="application/apply-patch+yaml",
    ) == {("apps", "deployments", "patch"), ("apps", "deployments", "create")}
    assert verbs("POST", "/api/v1/namespaces/a/events") == {("", "events", "create")}
    assert verbs("GET", "/api/v1/namespaces/a") == {("", "namespaces", "get")}
    assert verbs("GET", "/version") == set()


def test_the_derivation_follows_the_run_command_and_not_the_cli_tools() -> None:
    modules = reachable_modules()
    assert {
        "podpatterns.controller.handlers",
        "podpatterns.controller.reconciler",
        "podpatterns.controller.kube",
    } <= set(modules)
    # `podpatterns diff` runs with the user's own credentials, never in the operator.
    assert "podpatterns.cli.diff" not in modules
    used = used_api_methods()
    assert {"create_pod", "delete_pod", "patch_pattern_status", "create_event"} <= used
    assert "dry_run_apply_pattern" not in used


def test_the_derivation_sees_kopfs_watches() -> None:
    watches = kopf_watch_permissions()
    assert {("", "pods", "watch", ""), ("podpatterns.dev", "podpatterns", "list", "")} <= watches
