"""Every label and annotation key is defined once (podpatterns.render.labels): the
renderer writes, the watches select and the benchmark labels with the very same strings."""

from __future__ import annotations

import ast
from pathlib import Path

from bench import workloads as bench_workloads

from podpatterns.controller import pods, watches
from podpatterns.render import labels, meta, pod, workloads

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    name: value
    for name, value in vars(labels).items()
    if name.endswith(("_LABEL", "_ANNOTATION")) and isinstance(value, str)
}


def test_the_keys_carry_the_project_prefix() -> None:
    assert KEYS, "render/labels.py defines no keys"
    for name, value in KEYS.items():
        assert value.startswith(labels.PREFIX), name


def test_the_renderer_and_the_watches_use_the_same_keys() -> None:
    # The renderer's place, the watches' place and the benchmark's place.
    assert meta.PATTERN_LABEL is labels.PATTERN_LABEL
    assert pod.HASH_LABEL is labels.HASH_LABEL
    assert workloads.WORKLOAD_LABEL is labels.WORKLOAD_LABEL
    assert watches.PATTERN_LABEL is labels.PATTERN_LABEL
    assert pods.HASH_LABEL is labels.HASH_LABEL
    assert pods.WORKLOAD_LABEL is labels.WORKLOAD_LABEL
    assert bench_workloads.PATTERN_LABEL is labels.PATTERN_LABEL


def test_the_rendered_pod_carries_the_label_the_watch_selects_by() -> None:
    from tests.unit.presets_support import pattern

    value = pattern()
    rendered = meta.selector(value)
    assert list(rendered) == [watches.PATTERN_LABEL]


def test_no_other_module_spells_a_key_out() -> None:
    """A second definition of a key is a string constant equal to it anywhere else."""
    values = set(KEYS.values())
    found: list[str] = []
    sources = [*(ROOT / "operator" / "podpatterns").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    for path in sources:
        if path == Path(labels.__file__).resolve():
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in values:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert not found, "\n".join(found)
