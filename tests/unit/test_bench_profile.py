"""The benchmark's profile summary: self and inclusive samples from collapsed stacks."""

from __future__ import annotations

from pathlib import Path

from bench import profile

RAW = """\
main (a.py:1);reconcile (r.py:10);render (p.py:5) 6
main (a.py:1);reconcile (r.py:10);request (k.py:7) 3
main (a.py:1);walk (w.py:2);walk (w.py:2) 1
not a stack line
"""


def test_self_and_inclusive_samples() -> None:
    parsed = profile.parse(RAW.splitlines())
    assert parsed.samples == 10
    assert parsed.self_counts["render (p.py:5)"] == 6
    assert parsed.self_counts["reconcile (r.py:10)"] == 0
    assert parsed.inclusive_counts["reconcile (r.py:10)"] == 9
    assert parsed.inclusive_counts["main (a.py:1)"] == 10
    assert parsed.inclusive_counts["walk (w.py:2)"] == 1  # recursion counts once


def test_the_summary_file_lists_the_busiest_functions(tmp_path: Path) -> None:
    raw = tmp_path / "operator-1.profile.txt"
    raw.write_text(RAW)
    summary = profile.summarize_file(raw)
    assert summary.name == "operator-1.profile.top.txt"
    lines = summary.read_text().splitlines()
    assert lines[0] == "10 samples"
    assert lines[3] == "60.0%      60.0%  render (p.py:5)"
    assert profile.top(profile.parse([])) == "no samples"
