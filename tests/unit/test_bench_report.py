"""The benchmark's report: summaries, ratios and the generated part of the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench import report
from bench.cluster import OPERATOR_USER

KCM = "system:kube-controller-manager"


def run(system: str, objects: int, ready: float, repeat: int = 1,
        replicas: int = 1, writes: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    pods = objects * replicas
    result: dict[str, Any] = {
        "system": system, "objects": objects, "replicas": replicas, "repeat": repeat,
        "pods": pods, "seconds_to_applied": ready / 4, "seconds_to_all_exist": ready / 2,
        "seconds_to_all_ready": ready,
    }
    if writes is not None:
        result["writes"] = {"by_user": writes, "failed": {}, "operator_elsewhere": {},
                            "pods": pods}
    return result


def results() -> dict[str, Any]:
    scenarios = []
    for repeat, factor in ((1, 1.0), (2, 1.2), (3, 0.9)):
        scenarios += [
            run("podpattern", 100, 4.0 * factor, repeat,
                writes={OPERATOR_USER: {"create pods": 100,
                                        "patch podpatterns.podpatterns.dev/status": 100},
                        "system:kube-scheduler": {"create pods/binding": 100}}),
            run("replicaset", 100, 5.0 * factor, repeat,
                writes={KCM: {"create pods": 100, "update replicasets.apps/status": 120}}),
            run("deployment", 100, 8.0 * factor, repeat,
                writes={KCM: {"create pods": 100, "create replicasets.apps": 100,
                              "update replicasets.apps/status": 150,
                              "update deployments.apps/status": 150}}),
        ]
    scenarios[0]["steady"] = {"seconds": 30, "writes": {}, "controller_writes": 0,
                              "per_minute": 0.0}
    scenarios.append({"system": "deployment", "objects": 100, "replicas": 1, "repeat": 4,
                      "error": "100 Pods Ready in ns: not reached after 180s"})
    return {
        "meta": {"command": "python -m bench", "started": "2026-11-25 10:00 UTC",
                 "duration": "20m", "commit": "abc1234", "dirty": False,
                 "machine": "2 CPUs"},
        "modes": [{
            "key": "A", "title": "same client rate", "description": "kcm 20/30; pp 20/30",
            "scenarios": scenarios,
            "replace": {"replicas": 3, "trials": 4,
                        "seconds": {"podpattern": {"exist": [0.1, 0.2, 0.1, 0.3],
                                                   "ready": [0.2, 0.3, 0.2, 0.4]},
                                    "replicaset": {"exist": [0.1] * 4, "ready": [0.2] * 4}}},
            "rollout": {"replicas": 10, "max_surge": "25%", "max_unavailable": "25%",
                        "trials": 2, "seconds": {"podpattern": [1.0, 2.0],
                                                 "deployment": [3.0, 4.0]}},
            "idle": {"samples": [
                {"patterns": 0, "rss_bytes": 80 * 2**20, "cpu_percent": 0.1,
                 "writes_per_minute": 0.0},
                {"patterns": 1000, "rss_bytes": 100 * 2**20, "cpu_percent": 0.3,
                 "writes_per_minute": 0.0}],
                "rss_bytes_per_1000": 20 * 2**20},
        }],
        "notes": ["something to know"],
    }


def test_runs_are_summarized_by_median_and_range_without_failed_ones() -> None:
    table = report.summaries(results()["modes"][0])
    pp = table[(100, 1, "podpattern")]
    assert pp["runs"] == 3
    assert pp["ready"].median == pytest.approx(4.0)
    assert (pp["ready"].low, pp["ready"].high) == pytest.approx((3.6, 4.8))
    assert pp["pods_per_second"].median == pytest.approx(25.0)
    # Only the controller's own writes count: not the scheduler's bindings.
    assert pp["writes_per_pod"].median == pytest.approx(2.0)
    assert pp["writes_by_kind"] == {"create pods": 1.0,
                                    "patch podpatterns.podpatterns.dev/status": 1.0}
    assert pp["steady_per_minute"] == 0.0
    assert table[(100, 1, "deployment")]["runs"] == 3
    assert list(table) == [(100, 1, "podpattern"), (100, 1, "replicaset"),
                           (100, 1, "deployment")]


def test_ratios_compare_podpatterns_with_each_system() -> None:
    (row,) = report.ratios(results()["modes"][0])
    assert (row["objects"], row["replicas"]) == (100, 1)
    assert row["deployment"] == pytest.approx(0.5)
    assert row["replicaset"] == pytest.approx(0.8)
    assert row["deployment_writes"] == pytest.approx(2.0 / 5.0)
    assert row["replicaset_writes"] == pytest.approx(2.0 / 2.2)


def test_markdown_has_every_table_the_failures_and_the_notes() -> None:
    text = report.markdown(results(), folder="benchmarks/")
    assert "`python -m bench`" in text and "abc1234" in text
    assert "![Time until all Pods are Ready against N](benchmarks/ready-vs-n.png)" in text
    assert ("| 100 x 1 replica | PodPattern | 100 | 1.00 | 2.00 (1.80-2.40) | 4.00 (3.60-4.80) |"
            in text)
    assert "failed: Deployment 100 x 1 repeat 4" in text
    assert "create pods 1.00, patch podpatterns.podpatterns.dev/status 1.00" in text
    assert "| PodPattern | 0.150 | 0.297 | 0.250 | 0.397 |" in text
    assert "| Deployment | 3.50 (3.00-4.00) | 2 |" in text
    assert "Memory slope: 20.0 MiB per 1,000 PodPatterns" in text
    assert "| A | 100 x 1 replica | 0.50 | 0.80 | 0.40 | 0.91 |" in text
    assert "- something to know" in text
    assert "ready-vs-n" not in report.markdown(results(), plot=False)


def test_the_terminal_table_is_short() -> None:
    text = report.terminal(results())
    assert "1 scenario(s) failed" in text
    assert len(text.splitlines()) < 20


def test_the_generated_section_is_replaced_and_nothing_else() -> None:
    document = f"# Benchmarks\n\nMethod.\n\n{report.BEGIN}\nold\n{report.END}\n\nAfter.\n"
    updated = report.replace_section(document, "new\n")
    assert updated == f"# Benchmarks\n\nMethod.\n\n{report.BEGIN}\nnew\n{report.END}\n\nAfter.\n"
    assert report.replace_section(updated, "new\n") == updated
    appended = report.replace_section("# Benchmarks\n", "first")
    assert appended.endswith(f"{report.BEGIN}\nfirst\n{report.END}\n")


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = report.plot(results(), tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
