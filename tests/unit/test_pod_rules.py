"""Rules of the Pod's validation that tests/cluster/test_differential.py found `validate`
missing, each checked offline here."""

from __future__ import annotations

from typing import Any

import pytest

from podpatterns.api.validation import check, parse


def errors(**main: Any) -> dict[str, str]:
    body = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "web"},
        "spec": {"main": {"name": "app", "image": "nginx:1.27.2", **main}},
    }
    return {error.path: error.message for error in check(parse(body))}


@pytest.mark.parametrize(("mount", "refused"), [("Unmasked", True), ("Default", False)])
def test_proc_mount_unmasked_needs_a_user_namespace(mount: str, refused: bool) -> None:
    found = errors(securityContext={"procMount": mount})
    assert ("spec.main.securityContext.procMount" in found) is refused, found
