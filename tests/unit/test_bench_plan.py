"""The benchmark's schedule: alternating order, steady-state windows, and its presets."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from bench.cli import DEFAULT, FULL, QUICK, build_parser, make_plan
from bench.plan import schedule
from bench.workloads import DEPLOYMENT, PODPATTERN, SYSTEMS


def test_over_three_repeats_each_system_takes_each_place_once_at_every_size() -> None:
    runs = schedule((10, 100), 0, 3)
    assert len(runs) == 3 * 2 * 3
    for objects in (10, 100):
        places: Counter[tuple[str, int]] = Counter()
        for repeat in (1, 2, 3):
            order = [r.system for r in runs if r.objects == objects and r.repeat == repeat]
            assert sorted(order) == sorted(SYSTEMS)
            places.update((system, place) for place, system in enumerate(order))
        assert set(places.values()) == {1} and len(places) == 9


def test_consecutive_sizes_do_not_start_with_the_same_system() -> None:
    runs = schedule((10, 100, 1000), 0, 1)
    firsts = [next(r.system for r in runs if r.objects == n) for n in (10, 100, 1000)]
    assert len(set(firsts)) == 3


def test_the_many_replica_pair_alternates_and_comes_after_each_repeat() -> None:
    runs = schedule((10,), 100, 2)
    pairs = [(r.repeat, r.system) for r in runs if r.replicas == 100]
    assert pairs == [(1, PODPATTERN), (1, DEPLOYMENT), (2, DEPLOYMENT), (2, PODPATTERN)]
    assert all(r.objects == 1 and r.pods == 100 for r in runs if r.replicas == 100)
    assert runs[3].replicas == 100 and runs[4].replicas == 100  # after the 3 of repeat 1


def test_steady_state_is_counted_once_per_system_at_the_largest_size() -> None:
    runs = schedule((10, 100), 100, 3)
    steady = [(r.system, r.objects, r.replicas) for r in runs if r.steady]
    assert sorted(steady) == sorted([(s, 100, 1) for s in SYSTEMS]
                                    + [(PODPATTERN, 1, 100), (DEPLOYMENT, 1, 100)])
    assert not any(r.steady for r in schedule((10,), 0, 1, steady=False))


def test_labels_are_unique_within_a_mode() -> None:
    runs = schedule((10, 100, 1000), 100, 3)
    assert len({r.label for r in runs}) == len(runs)


def test_presets_and_overrides() -> None:
    parser = build_parser()
    assert make_plan(parser.parse_args([])) == DEFAULT
    assert make_plan(parser.parse_args(["--full"])).sizes == (10, 100, 1000)
    assert FULL.repeats >= 3 and DEFAULT.repeats >= 3 and DEFAULT.replace_trials >= 30
    quick = make_plan(parser.parse_args(["--quick"]))
    assert quick == QUICK and not quick.restart and quick.repeats == 1
    custom = make_plan(parser.parse_args(
        ["--modes", "b", "--sizes", "5,50", "--repeats", "5", "--skip", "idle,rollout",
         "--no-restart"]))
    assert custom.modes == ("B",) and custom.sizes == (5, 50) and custom.repeats == 5
    assert custom.skip == frozenset({"idle", "rollout"}) and not custom.restart


def test_the_cluster_is_sized_for_the_largest_step_that_runs() -> None:
    assert FULL.max_pods() == 1000
    assert QUICK.max_pods() < 110
    assert replace(DEFAULT, skip=frozenset({"idle"})).max_pods() == 100
    assert replace(DEFAULT, sizes=(5,), replica_scenario=0,
                   skip=frozenset({"idle", "replace"})).max_pods() == 40
