"""A minimal HTTPS client for bringing the cluster up.

The dev cluster talks to its API server before anything else exists (readiness, nodes), and
must stay fast to start, so it uses the standard library with the admin certificate and the
cluster CA rather than importing the full Kubernetes client.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podpatterns.devcluster.pki import Pair


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class Client:
    def __init__(self, server: str, ca: Path, client: Pair | None) -> None:
        self.server = server.rstrip("/")
        self.context = ssl.create_default_context(cafile=str(ca))
        if client is not None:
            self.context.load_cert_chain(str(client.cert), str(client.key))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        timeout: float = 5.0,
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode(errors="replace")) from None
        ctype = resp.headers.get("Content-Type", "")
        return json.loads(raw) if raw and "json" in ctype else raw.decode(errors="replace")

    def healthy(self, path: str = "/readyz") -> bool:
        try:
            self.request("GET", path, timeout=2.0)
        except (OSError, ApiError, ssl.SSLError):
            return False
        return True


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, *, failed: Callable[[], str | None]
) -> None:
    """Poll `check` until true; `failed` explains early exits (a component that died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        reason = failed()
        if reason is not None:
            raise RuntimeError(f"{what} did not come up:\n{reason}")
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
