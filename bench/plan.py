"""What a run measures, in which order. Pure: the runner executes it, tests check it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.workloads import DEPLOYMENT, PODPATTERN, SYSTEMS


@dataclass(frozen=True)
class Scenario:
    system: str
    objects: int
    replicas: int
    repeat: int
    steady: bool = False
    """Also count the writes at steady state after this one."""

    @property
    def pods(self) -> int:
        return self.objects * self.replicas

    @property
    def group(self) -> str:
        """Scenarios whose numbers are summarized together."""
        return f"{self.objects}x{self.replicas}"

    @property
    def label(self) -> str:
        short = {"podpattern": "pp", "replicaset": "rs", "deployment": "deploy"}[self.system]
        run = f"r{self.repeat}" if self.repeat else "warmup"
        return f"{short}-{self.objects}x{self.replicas}-{run}"


@dataclass(frozen=True)
class Plan:
    modes: tuple[str, ...] = ("A", "B")
    sizes: tuple[int, ...] = (10, 100)
    replica_scenario: int = 100
    """Pods of the one-object scenario (one PodPattern / one Deployment); 0 skips it."""
    repeats: int = 3
    steady_seconds: float = 30.0
    replace_trials: int = 30
    replace_replicas: int = 3
    rollout_trials: int = 3
    rollout_replicas: int = 10
    idle_counts: tuple[int, ...] = (0, 100, 1000)
    idle_seconds: float = 30.0
    idle_settle_seconds: float = 10.0
    warmup: int = 5
    """Objects of the untimed scenario each system runs first in every mode; 0: none."""
    apply_workers: int = 8
    restart: bool = True
    """Bring the dev cluster up with the benchmark's options for each mode."""
    label: str = "default"
    skip: frozenset[str] = field(default_factory=frozenset)
    """Parts left out: scenarios, steady, replace, rollout, idle."""
    profile: bool = False
    """Run the operator under py-spy (its numbers then include the sampling overhead)."""

    def scenarios(self) -> list[Scenario]:
        return schedule(self.sizes, self.replica_scenario, self.repeats,
                        steady=self.steady_seconds > 0 and "steady" not in self.skip)

    def max_pods(self) -> int:
        """The most Pods that exist at once: steps run one after the other."""
        candidates = [0]
        if "scenarios" not in self.skip:
            candidates += [*self.sizes, self.replica_scenario]
        if "idle" not in self.skip:
            candidates += self.idle_counts
        if "replace" not in self.skip:
            candidates.append(2 * (self.replace_replicas + 1))
        if "rollout" not in self.skip:
            # Both systems' Pods, with each surging while the other waits.
            candidates.append(2 * 2 * self.rollout_replicas)
        return max(candidates)

    def steps(self) -> int:
        """Steps per mode shown in the progress line."""
        count = 0 if "scenarios" in self.skip else len(self.scenarios())
        count += sum(1 for part in ("replace", "rollout") if part not in self.skip)
        return count


def rotate(items: Sequence[str], by: int) -> tuple[str, ...]:
    by %= len(items)
    return tuple(items[by:]) + tuple(items[:by])


def schedule(sizes: Sequence[int], replica_scenario: int, repeats: int, *,
             steady: bool = True) -> list[Scenario]:
    """Each repeat runs every size with the three systems in a rotated order, so that over
    three repeats each system goes first, second and third once at every size (the cluster
    warms up, and whatever runs first pays for it). The many-replica pair alternates too.
    """
    result: list[Scenario] = []
    # Writes at steady state are counted once per system, with the most objects, where a
    # periodic write per object would show most.
    largest = max(sizes, default=0)
    for repeat in range(1, repeats + 1):
        for index, objects in enumerate(sizes):
            for system in rotate(SYSTEMS, repeat - 1 + index):
                result.append(Scenario(system, objects, 1, repeat,
                                       steady=steady and repeat == 1 and objects == largest))
        if replica_scenario > 0:
            pair = (PODPATTERN, DEPLOYMENT) if repeat % 2 else (DEPLOYMENT, PODPATTERN)
            for system in pair:
                result.append(Scenario(system, 1, replica_scenario, repeat,
                                       steady=steady and repeat == 1))
    return result
