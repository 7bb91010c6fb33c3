"""Where the operator's time goes, from py-spy's collapsed stacks (`--format raw`).

Each line of a raw profile is `frame;frame;...;frame COUNT`, outermost first. The same file
opens as a flame graph in speedscope (https://www.speedscope.app) or flamegraph.pl; this
module prints the functions with the most samples, by themselves (self) and with what they
call (inclusive), which is usually enough to see what to fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Profile:
    samples: int
    self_counts: Counter[str]
    inclusive_counts: Counter[str]


def parse(lines: Iterable[str]) -> Profile:
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        self_counts[frames[-1]] += count
        # A recursive function counts once per sample, not once per frame.
        for frame in set(frames):
            inclusive[frame] += count
    return Profile(total, self_counts, inclusive)


def top(profile: Profile, count: int = 25) -> str:
    if not profile.samples:
        return "no samples"
    lines = [f"{profile.samples} samples", "", "self  inclusive  function"]
    for frame, samples in profile.self_counts.most_common(count):
        lines.append(f"{100 * samples / profile.samples:4.1f}%  "
                     f"{100 * profile.inclusive_counts[frame] / profile.samples:8.1f}%  {frame}")
    lines += ["", "inclusive  function"]
    for frame, samples in profile.inclusive_counts.most_common(count):
        lines.append(f"{100 * samples / profile.samples:8.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def summarize_file(path: Path) -> Path:
    """Write PATH.top.txt beside a raw profile; returns its path."""
    with path.open() as handle:
        summary = top(parse(handle))
    target = path.with_suffix(".top.txt")
    target.write_text(summary)
    return target
