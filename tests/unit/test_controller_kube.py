"""The raw-JSON client layer: errors, versions, rate limit, request shapes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from podpatterns.controller.kube import ApiError, KubeApi, RateLimiter, parse_version


def test_api_error_reads_the_status_body() -> None:
    error = ApiError(
        422,
        "Unprocessable Entity",
        {
            "reason": "Invalid",
            "message": 'Pod "web-0" is invalid',
            "details": {"causes": [{"field": "spec.containers[0].image", "message": "Required"}]},
        },
    )
    assert error.invalid and not error.already_exists and not error.retryable
    assert error.message == 'Pod "web-0" is invalid'
    assert error.causes == [("spec.containers[0].image", "Required")]
    assert ApiError(409, "Conflict", {"reason": "AlreadyExists"}).already_exists
    assert not ApiError(409, "Conflict", {"reason": "Conflict"}).already_exists
    assert ApiError(0, "connection refused").retryable
    assert ApiError(503, "Service Unavailable").message == "503 Service Unavailable"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"major": "1", "minor": "37"}, (1, 37)),
        ({"major": "1", "minor": "29+"}, (1, 29)),
        ({"major": "", "minor": "", "gitVersion": "v1.28.3-eks-1"}, (1, 28)),
    ],
)
def test_parse_version(info: dict[str, str], expected: tuple[int, int]) -> None:
    assert parse_version(info) == expected


def test_parse_version_without_anything_usable_says_so() -> None:
    with pytest.raises(ValueError, match="server version"):
        parse_version({})


def test_rate_limiter_allows_a_burst_then_paces() -> None:
    limiter = RateLimiter(qps=50, burst=5)
    start = time.monotonic()
    for _ in range(5):
        limiter.acquire()
    assert time.monotonic() - start < 0.05
    for _ in range(5):
        limiter.acquire()
    assert time.monotonic() - start >= 0.08  # 5 more at 50/s


class Recorder(KubeApi):
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append({"method": method, "path": path, **kwargs})
        return {}


def test_status_patch_is_a_merge_patch_of_the_status_stanza() -> None:
    api = Recorder()
    api.patch_pattern_status("shop", "web", {"phase": "Ready", "templateHash": None})
    (call,) = api.calls
    assert call["method"] == "PATCH"
    assert call["path"] == "/apis/podpatterns.dev/v1alpha1/namespaces/shop/podpatterns/web/status"
    assert call["body"] == {"status": {"phase": "Ready", "templateHash": None}}
    assert call["content_type"] == "application/merge-patch+json"
    assert ("fieldManager", "podpatterns") in call["query"]


def test_pod_delete_is_guarded_by_the_uid() -> None:
    api = Recorder()
    api.delete_pod("shop", "web-h-0", "uid-1")
    assert api.calls[0]["body"]["preconditions"] == {"uid": "uid-1"}
