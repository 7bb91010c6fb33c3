"""A watch stream that stalls: open, silent, never closed.

The operator talks to the API server through a relay (relay.py). Once it runs a
PodPattern, every connection it has open is frozen, and the PodPattern is scaled from
outside. The change can reach the operator only over a new watch, which Kopf opens when
`settings.watching.inactivity_timeout` (70 s: the API server sends a bookmark every minute)
passes without a byte. The scale must be done within STALL_BOUND.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from podpatterns.controller.handlers import WATCH_INACTIVITY_TIMEOUT
from tests.chaos.relay import StallingRelay
from tests.e2e.conftest import Operator
from tests.e2e.helpers import pattern, wait_ready
from tests.support.kube import Cluster

REQUEST_TIMEOUT = 10
"""--request-timeout for this operator: each pooled client connection that was frozen costs
one create this long before the client drops it and connects anew."""
STALL_BOUND = WATCH_INACTIVITY_TIMEOUT + 6 * REQUEST_TIMEOUT


def _upstream(kubeconfig: Path) -> tuple[str, int]:
    config = yaml.safe_load(kubeconfig.read_text())
    server = urlsplit(config["clusters"][0]["cluster"]["server"])
    assert server.hostname is not None and server.port is not None, server
    return server.hostname, server.port


def test_a_stalled_watch_is_reestablished_and_the_change_reconciled(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path, figures: dict[str, Any]
) -> None:
    relay = StallingRelay(*_upstream(cluster.kubeconfig)).start()
    try:
        operator.stop()
        kubeconfig = relay.write_kubeconfig(cluster.kubeconfig, tmp_path / "relayed")
        operator.start("--kubeconfig", str(kubeconfig), "--request-timeout", str(REQUEST_TIMEOUT))
        cluster.apply(pattern("web", namespace, replicas=2))
        wait_ready(cluster, namespace, "web", 2)
        opened = relay.opened_since(0)

        stalled = relay.freeze()
        frozen_at = time.monotonic()
        # From outside the relay: only a watch of the operator's can bring this news.
        cluster.kubectl("scale", "-n", namespace, "pp/web", "--replicas=4")
        wait_ready(cluster, namespace, "web", 4, timeout=STALL_BOUND)
        recovered = time.monotonic() - frozen_at
        reconnected = relay.opened_since(opened)
    finally:
        operator.stop()
        relay.stop()

    # The stall held the change back until a new connection: the frozen watch carried
    # nothing, and the operator did not learn of the scale some other way at once.
    assert stalled >= 3, f"only {stalled} connections were open to freeze"
    assert reconnected >= 1, "the operator never opened a new connection"
    assert recovered >= 5, f"reconciled after {recovered:.1f}s: the stall stalled nothing"
    text = operator.log(all_runs=True)
    assert "Traceback" not in text, text[-5000:]
    figures.update(
        inactivity_timeout_s=WATCH_INACTIVITY_TIMEOUT,
        connections_frozen=stalled,
        connections_opened_after=reconnected,
        change_reconciled_after_s=round(recovered, 1),
        bound_s=STALL_BOUND,
    )
