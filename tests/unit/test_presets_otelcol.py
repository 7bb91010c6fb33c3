"""The logging preset's generated configuration, checked by the collector itself.

`otelcol validate` loads a configuration the way the collector does at start-up and
fails on unknown components or settings. It runs when the collector built from the
preset's components is in the cache (tests/support/otelcol.py builds it; the real-node
tests do, or run `python -c "from tests.support import otelcol; otelcol.build()"`).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import otelcol
from tests.unit.golden import case_names, load_case, render_case

BINARY = otelcol.cached()
pytestmark = pytest.mark.skipif(
    BINARY is None, reason="the collector is not built (tests/support/otelcol.py)"
)


def _configs() -> list[tuple[str, str, str]]:
    found = []
    for name in case_names():
        case = load_case(name)
        for config_map in render_case(case.pattern, "native", case.profiles).config_maps:
            text = config_map["data"].get("config.yaml")
            if text is not None:
                found.append((name, config_map["metadata"]["name"], text))
    return found


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    assert BINARY is not None
    env = dict(os.environ, POD_NAME="web-0", POD_NAMESPACE="shop")
    return subprocess.run(
        [str(BINARY), "validate", f"--config={path}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("case", "config_map", "text"), _configs())
def test_the_collector_accepts_the_generated_configuration(
    tmp_path: Path, case: str, config_map: str, text: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = _validate(path)
    assert result.returncode == 0, f"{case}/{config_map}: {result.stderr}"


def test_the_collector_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    # Without this, a validate that accepted everything would make the test above vacuous.
    (_, _, text) = _configs()[0]
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("start_at:", "start_from:"))
    result = _validate(path)
    assert result.returncode != 0 and "start_from" in result.stderr
