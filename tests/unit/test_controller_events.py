"""The operator's Event recorder: an identical Event is not repeated within its window."""

from __future__ import annotations

from podpatterns.controller.events import Event, EventRecorder


def pattern(uid: str) -> dict[str, object]:
    return {"metadata": {"name": f"web-{uid}", "namespace": "shop", "uid": uid}}


def test_an_identical_event_waits_for_the_window_and_a_different_one_does_not() -> None:
    clock = [0.0]
    recorder = EventRecorder(instance="test", window=600, monotonic=lambda: clock[0])
    invalid = Event("Warning", "InvalidSpec", "spec.main.image: required", "Validate")
    assert recorder.should_post(pattern("a"), invalid)
    assert not recorder.should_post(pattern("a"), invalid)
    assert recorder.should_post(pattern("b"), invalid)  # another object
    assert recorder.should_post(pattern("a"), Event("Normal", "SpecValid", "valid", "Validate"))
    clock[0] = 601
    assert recorder.should_post(pattern("a"), invalid)


def test_forgetting_an_object_lets_its_events_through_again() -> None:
    recorder = EventRecorder(instance="test", monotonic=lambda: 0.0)
    created = Event("Normal", "PodCreated", "Created Pod web-0", "Create")
    assert recorder.should_post(pattern("a"), created)
    assert recorder.should_post(pattern("b"), created)
    recorder.forget("a")
    assert recorder.should_post(pattern("a"), created)
    assert not recorder.should_post(pattern("b"), created)


def test_old_entries_are_dropped_once_many_are_remembered() -> None:
    clock = [0.0]
    recorder = EventRecorder(instance="test", window=10, monotonic=lambda: clock[0])
    for index in range(10_000):
        recorder.should_post(pattern(str(index)), Event("Normal", "PodCreated", "x", "Create"))
    clock[0] = 20  # all of those are older than the window now
    recorder.should_post(pattern("new"), Event("Normal", "PodCreated", "x", "Create"))
    assert sum(len(posted) for posted in recorder._recent.values()) == 1
