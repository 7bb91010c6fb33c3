"""Runs a plan on the dev cluster and collects raw results (see report.py for summaries).

Every wait has a deadline that grows with the number of Pods, every step shows progress,
and every namespace the benchmark makes is deleted (and awaited) before the next step, so
one scenario's clean-up never overlaps another's measurement.
"""

from __future__ import annotations

import concurrent.futures
import functools
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import audit
from bench.cluster import MODES, NAMESPACE_PREFIX, OPERATOR_USER, BenchCluster, Mode
from bench.kube import Kube, KubeError
from bench.operator import Operator, cpu_percent
from bench.plan import Plan, Scenario
from bench.progress import Progress, fmt_duration
from bench.stats import slope
from bench.tracker import PodState, PodTracker, Reached, all_ready, labelled
from bench.workloads import (
    DEPLOYMENT,
    PODPATTERN,
    REPLICASET,
    ROLLOUT_IMAGES,
    SYSTEMS,
    TITLES,
    Rollout,
    collection_path,
    image_patch,
    manifest,
    owner_label,
    pod_spec,
)

QUIET_SECONDS = 3.0
"""After the last Pod is Ready, the controllers still write status; a scenario's writes are
counted once no controller has written in its namespace for this long."""
SETTLE_LIMIT = 60.0
WATCHING_TIMEOUT = 30.0
NAMESPACE_TIMEOUT = 30.0
NAMESPACE_DELETE_TIMEOUT = 180.0
NO_AUDIT_GRACE = 3.0


def controller_user(system: str) -> str:
    return OPERATOR_USER if system == PODPATTERN else audit.KUBE_CONTROLLER_MANAGER


def ready_deadline(mode: Mode, pods: int) -> float:
    # At 20 requests per second a Deployment costs about four writes per Pod; the deadline
    # leaves room for three times that before calling a scenario stuck.
    per_pod = 0.6 if mode.operator_qps > 0 else 0.25
    return 120.0 + per_pod * pods


def delete_deadline(pods: int) -> float:
    return 180.0 + 0.5 * pods


class Runner:
    def __init__(
        self,
        plan: Plan,
        cluster: BenchCluster,
        progress: Progress,
        work_dir: Path,
    ) -> None:
        self.plan = plan
        self.cluster = cluster
        self.progress = progress
        self.work_dir = work_dir
        self.run_id = secrets.token_hex(2)
        self.operator: Operator | None = None
        self.audit_on = False
        self.spec: dict[str, Any] = {}
        self.notes: list[str] = []
        self.namespaces: list[str] = []

    @property
    def admin(self) -> Kube:
        return self.cluster.admin()

    # -- one fairness mode ---------------------------------------------------------------
    def run_mode(self, mode: Mode, result: dict[str, Any], *, idle: bool) -> None:
        """Measure one mode into `result`, filled as it goes: if the run stops half-way,
        what was measured is still written out."""
        plan = self.plan
        result.update({
            "key": mode.key,
            "title": mode.title,
            "description": mode.describe(),
            "kube_controller_manager": {"qps": mode.kcm_qps, "burst": mode.kcm_burst},
            "operator": {"qps": mode.operator_qps, "burst": mode.operator_burst},
            "scenarios": [],
        })
        self.progress.total_steps = plan.steps() + (1 if idle and "idle" not in plan.skip
                                                     else 0)
        self.progress.step = 0
        self.progress.begin(f"mode {mode.key}: preparing the cluster")
        self._prepare(mode, result)
        try:
            if "scenarios" not in plan.skip and plan.warmup > 0:
                # Untimed: the first requests of a fresh cluster and a fresh operator pay
                # for connections, caches and lazy imports, which no system should carry.
                self.progress.begin(f"mode {mode.key} · warm-up, not measured")
                for system in SYSTEMS:
                    self._guarded(functools.partial(
                        self.scenario, mode, Scenario(system, plan.warmup, 1, 0)), {})
            if "scenarios" not in plan.skip:
                for scenario in plan.scenarios():
                    self.progress.begin(
                        f"mode {mode.key} · {TITLES[scenario.system]} "
                        f"{scenario.objects}x{scenario.replicas} · "
                        f"repeat {scenario.repeat}/{plan.repeats}",
                        step=self.progress.step + 1)
                    result["scenarios"].append(self._guarded(
                        functools.partial(self.scenario, mode, scenario),
                        {"system": scenario.system, "objects": scenario.objects,
                         "replicas": scenario.replicas, "repeat": scenario.repeat}))
            if "replace" not in plan.skip:
                self.progress.begin(f"mode {mode.key} · replace a deleted Pod "
                                    f"({plan.replace_trials} trials each)",
                                    step=self.progress.step + 1)
                result["replace"] = self._guarded(lambda: self.replace(mode), {})
            if "rollout" not in plan.skip:
                self.progress.begin(f"mode {mode.key} · roll out an image change "
                                    f"({plan.rollout_trials} trials each)",
                                    step=self.progress.step + 1)
                result["rollout"] = self._guarded(lambda: self.rollout(mode), {})
            if idle and "idle" not in plan.skip:
                self.progress.begin(f"mode {mode.key} · operator at idle",
                                    step=self.progress.step + 1)
                result["idle"] = self._guarded(lambda: self.idle(mode), {})
        finally:
            if self.operator is not None:
                result["operator"]["tracebacks"] = self.operator.tracebacks()
                self.operator.stop()
                if self.plan.profile:
                    from bench.profile import summarize_file

                    result["operator"]["profiles"] = [
                        str(summarize_file(path))
                        for path in sorted(self.operator.log_dir.glob("*.profile.txt"))]

    def _guarded(self, step: Callable[[], dict[str, Any]],
                 identity: dict[str, Any]) -> dict[str, Any]:
        """A step that fails is recorded with its error and the run goes on: one stuck
        scenario should not cost the whole run. A dead operator ends the mode."""
        try:
            return step()
        except (TimeoutError, KubeError, RuntimeError) as error:
            self.progress.say(f"  ✗ {self.progress.context}: {error}")
            if self.operator is not None:
                self.operator.check()
            return dict(identity, error=str(error))

    def _prepare(self, mode: Mode, result: dict[str, Any]) -> None:
        cluster = self.cluster
        if self.plan.restart:
            from bench.cluster import bench_options

            options = bench_options(mode, self.plan.max_pods())
            self.progress.say(f"  dev cluster up: {options.workers} kwok workers x "
                              f"{options.worker_pods} Pods, audit log, kube-controller-manager "
                              f"{mode.kcm_qps or 'defaults'}")
            with self.progress.paused("dev cluster up"):
                cluster.up(options)
        self.audit_on = cluster.audit_enabled()
        if not self.audit_on:
            self.notes.append(f"mode {mode.key}: the cluster runs without its audit log "
                              "(`podpatterns dev-cluster up --audit`), so writes were not "
                              "counted")
        result["audit"] = self.audit_on
        running = cluster.running_options()
        result["cluster"] = running.to_json() if running else {}
        self.progress.doing("CRDs and the operator's identity")
        cluster.ensure_crds(replace_existing=self.plan.restart)
        # Namespaces of an earlier run that stopped half-way.
        self.namespaces = cluster.bench_namespaces()
        self.finish()
        kubeconfig = cluster.operator_kubeconfig(self.work_dir / "operator.kubeconfig")
        self.spec = pod_spec(cluster.server_version())
        self.operator = Operator(
            kubeconfig,
            f"{NAMESPACE_PREFIX}{self.run_id}-*",
            self.work_dir / f"mode-{mode.key}",
            qps=mode.operator_qps,
            burst=mode.operator_burst,
            profile=self.plan.profile,
        )
        self.progress.doing("starting the operator")
        self.operator.start()
        result["operator"]["argv"] = self.operator.argv[1:]

    # -- helpers -------------------------------------------------------------------------
    def _namespace(self, mode: Mode, label: str) -> str:
        name = f"{NAMESPACE_PREFIX}{self.run_id}-{mode.key.lower()}-{label}"
        self.cluster.create_namespace(name)
        self.namespaces.append(name)
        self.progress.doing("waiting for the namespace's ServiceAccount")
        deadline = time.monotonic() + NAMESPACE_TIMEOUT
        while not self.cluster.namespace_ready(name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {name}: no default ServiceAccount after "
                                   f"{NAMESPACE_TIMEOUT:.0f}s")
            time.sleep(0.1)
        return name

    @contextmanager
    def _scenario_namespace(
        self, mode: Mode, label: str, pods: int,
        prepare: Callable[[], None] | None = None,
    ) -> Iterator[tuple[str, PodTracker]]:
        """A fresh namespace with a Pod watch on it, emptied afterwards. `prepare` runs
        once the namespace exists, before the operator is expected to watch it."""
        tail = audit.AuditTail(self.cluster.audit_log) if self.audit_on else None
        namespace = self._namespace(mode, label)
        tracker = PodTracker(self.admin, namespace).start()
        try:
            if prepare is not None:
                prepare()
            try:
                self._operator_watching(namespace, tail)
            except TimeoutError as missed:
                # Seen rarely: an operator started moments before the namespace appeared
                # never picks it up. A restart lists the namespaces afresh.
                self.notes.append(f"{namespace}: {missed}; the operator was restarted")
                self.progress.say(f"  ! {missed}; restarting the operator")
                assert self.operator is not None
                self.operator.stop()
                self.operator.start()
                self._operator_watching(namespace, tail)
            yield namespace, tracker
        finally:
            tracker.stop()
            self._empty(namespace, pods)
            self._delete(namespace)

    def _empty(self, namespace: str, pods: int) -> None:
        timeout = delete_deadline(pods)
        deadline = time.monotonic() + timeout
        self.progress.doing(f"emptying namespace {namespace}")
        calm_since: float | None = None
        while True:
            left = self.cluster.empty_namespace(namespace)
            self.progress.update(f"{left} Pods left")
            now = time.monotonic()
            if left == 0:
                # Empty twice, a second apart: no controller is still recreating Pods.
                if calm_since is not None and now - calm_since >= 1.0:
                    return
                calm_since = calm_since or now
            else:
                calm_since = None
            if now > deadline:
                raise TimeoutError(f"namespace {namespace}: {left} Pods left after "
                                   f"{timeout:.0f}s")
            time.sleep(0.5)

    def _delete(self, namespace: str) -> None:
        """Delete the (empty) namespace and wait until it is gone. Deleting a namespace
        costs kube-controller-manager about a hundred requests (a list and a delete per
        resource type), which must not overlap the next measurement; and the operator
        keeps watching a namespace that matches its glob for as long as it exists."""
        self.cluster.delete_namespace(namespace)
        self.progress.doing(f"deleting namespace {namespace}")
        deadline = time.monotonic() + NAMESPACE_DELETE_TIMEOUT
        while not self.cluster.namespace_gone(namespace):
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {namespace} still there after "
                                   f"{NAMESPACE_DELETE_TIMEOUT:.0f}s")
            time.sleep(0.2)
        if namespace in self.namespaces:
            self.namespaces.remove(namespace)

    def finish(self) -> None:
        """Delete namespaces left by an earlier, interrupted run."""
        for name in self.namespaces:
            self.cluster.delete_namespace(name)
        for name in list(self.namespaces):
            self._delete(name)

    def _operator_watching(self, namespace: str, tail: audit.AuditTail | None) -> None:
        """Until the operator has listed PodPatterns and Pods in the new namespace, so its
        discovery of the namespace (a glob) is never part of a measurement."""
        self.progress.doing("waiting for the operator to watch the namespace")
        if tail is None:
            time.sleep(NO_AUDIT_GRACE)
            return
        wanted = {"podpatterns.podpatterns.dev", "pods"}
        seen: set[str] = set()
        deadline = time.monotonic() + WATCHING_TIMEOUT
        while not wanted <= seen:
            if self.operator is not None:
                self.operator.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the operator did not list {sorted(wanted - seen)} in "
                                   f"{namespace} within {WATCHING_TIMEOUT:.0f}s")
            time.sleep(0.1)
            events = tail.read(audit.mentions(namespace))
            seen |= audit.listed(events, OPERATOR_USER, namespace)

    def _apply(self, bodies: list[tuple[str, dict[str, Any]]]) -> None:
        """Create every object, a few requests in parallel, as kubectl users would."""
        with concurrent.futures.ThreadPoolExecutor(self.plan.apply_workers) as pool:
            futures = [pool.submit(self.admin.create, path, body) for path, body in bodies]
            for future in futures:
                future.result()

    def _pod_progress(self, expected: int) -> Callable[[list[PodState]], None]:
        def tick(pods: list[PodState]) -> None:
            live = [p for p in pods if p.live]
            ready = sum(1 for p in live if p.ready)
            self.progress.update(f"{len(live)}/{expected} Pods exist, {ready} Ready")
            if self.operator is not None:
                self.operator.check()  # a dead operator ends the wait, not its deadline

        return tick

    def _settle(self, tail: audit.AuditTail, namespace: str,
                users: tuple[str, ...], since: float) -> list[audit.AuditEvent]:
        """Read the namespace's requests until the controllers have been quiet for
        QUIET_SECONDS (they write status after the last Pod is Ready)."""
        self.progress.doing("waiting for the controllers to go quiet")
        events: list[audit.AuditEvent] = []
        deadline = time.monotonic() + SETTLE_LIMIT
        keep = audit.mentions(namespace, OPERATOR_USER)
        while True:
            events += tail.read(keep)
            last = audit.last_write([e for e in events if e.namespace == namespace], users)
            quiet_since = max(since, last or since)
            if time.time() - quiet_since >= QUIET_SECONDS:
                return events
            if time.monotonic() > deadline:
                self.notes.append(f"{namespace}: controllers still writing after "
                                  f"{SETTLE_LIMIT:.0f}s; counted what was written by then")
                return events
            time.sleep(0.25)

    def _count(self, events: list[audit.AuditEvent], namespace: str,
               pods: int) -> dict[str, Any]:
        counts = audit.count_writes(events, namespace=namespace)
        failed = audit.failed_writes(events, namespace=namespace)
        # The operator's writes anywhere (it should write only here) are its cost too.
        elsewhere = audit.count_writes(
            [e for e in events if e.namespace != namespace], users=[OPERATOR_USER])
        return {
            "by_user": audit.by_user(counts),
            "failed": audit.by_user(failed),
            "operator_elsewhere": audit.by_user(elsewhere),
            "pods": pods,
        }

    def _steady(self, namespace: str, system: str) -> dict[str, Any]:
        seconds = self.plan.steady_seconds
        tail = audit.AuditTail(self.cluster.audit_log)
        self.progress.doing(f"counting writes at steady state for {seconds:.0f}s")
        time.sleep(seconds)
        events = tail.read(audit.mentions(namespace, OPERATOR_USER))
        if system == PODPATTERN:
            # Anything the operator writes, anywhere, counts against it.
            counts = audit.count_writes(events, users=[OPERATOR_USER])
            counts += audit.count_writes(events, namespace=namespace,
                                         users=[audit.KUBE_CONTROLLER_MANAGER])
        else:
            counts = audit.count_writes(events, namespace=namespace,
                                        users=[audit.KUBE_CONTROLLER_MANAGER, OPERATOR_USER])
        controller = audit.total(counts, controller_user(system))
        return {
            "seconds": seconds,
            "writes": audit.by_user(counts),
            "controller_writes": controller,
            "per_minute": controller * 60.0 / seconds,
        }

    # -- scenarios -----------------------------------------------------------------------
    def scenario(self, mode: Mode, scenario: Scenario) -> dict[str, Any]:
        expected = scenario.pods
        result: dict[str, Any] = {
            "system": scenario.system,
            "objects": scenario.objects,
            "replicas": scenario.replicas,
            "repeat": scenario.repeat,
            "pods": expected,
        }
        with self._scenario_namespace(mode, scenario.label, expected) as (namespace, tracker):
            result["namespace"] = namespace
            bodies = [
                (collection_path(scenario.system, namespace),
                 manifest(scenario.system, f"app-{index:04d}", namespace, scenario.replicas,
                          self.spec))
                for index in range(scenario.objects)
            ]
            tail = audit.AuditTail(self.cluster.audit_log) if self.audit_on else None
            self.progress.doing(f"creating {scenario.objects} objects")
            started_wall = time.time()
            started = time.monotonic()
            self._apply(bodies)
            result["seconds_to_applied"] = time.monotonic() - started
            self.progress.doing("waiting for all Pods Ready")
            reached: Reached = tracker.wait(
                all_ready(expected),
                timeout=ready_deadline(mode, expected),
                what=f"{expected} Pods Ready in {namespace}",
                tick=self._pod_progress(expected),
            )
            result["seconds_to_all_exist"] = reached.exist - started
            result["seconds_to_all_ready"] = reached.ready - started
            result["pods_per_second"] = expected / result["seconds_to_all_ready"]
            self.progress.say(
                f"  ✓ mode {mode.key} {'warm-up ' if scenario.repeat == 0 else ''}"
                f"{scenario.label}: {expected} Pods exist after "
                f"{result['seconds_to_all_exist']:.2f}s, Ready after "
                f"{result['seconds_to_all_ready']:.2f}s")
            if tail is not None:
                ready_wall = started_wall + result["seconds_to_all_ready"]
                users = (OPERATOR_USER, audit.KUBE_CONTROLLER_MANAGER)
                events = self._settle(tail, namespace, users, ready_wall)
                result["writes"] = self._count(events, namespace, expected)
                if scenario.steady and self.plan.steady_seconds > 0:
                    result["steady"] = self._steady(namespace, scenario.system)
            if self.operator is not None:
                self.operator.check()
        return result

    def _ready_pair(self, tracker: PodTracker, names: dict[str, str], replicas: int,
                    mode: Mode) -> None:
        for system, name in names.items():
            self.progress.doing(f"waiting for {TITLES[system]} {name}")
            tracker.wait(all_ready(replicas), timeout=ready_deadline(mode, replicas),
                         what=f"{TITLES[system]} {name} Ready",
                         selector=labelled(owner_label(system), name),
                         tick=self._pod_progress(replicas))

    def replace(self, mode: Mode) -> dict[str, Any]:
        """Delete one Pod, time until a new one exists and is Ready; a PodPattern against a
        ReplicaSet of the same size, alternating which goes first."""
        plan = self.plan
        replicas = plan.replace_replicas
        names = {PODPATTERN: "replace-pp", REPLICASET: "replace-rs"}
        trials: dict[str, dict[str, list[float]]] = {
            system: {"exist": [], "ready": []} for system in names
        }
        with self._scenario_namespace(mode, "replace", 2 * replicas) as (namespace, tracker):
            self._apply([
                (collection_path(system, namespace),
                 manifest(system, name, namespace, replicas, self.spec))
                for system, name in names.items()
            ])
            self._ready_pair(tracker, names, replicas, mode)
            for trial in range(plan.replace_trials):
                order = list(names) if trial % 2 == 0 else list(reversed(names))
                for system in order:
                    self.progress.doing(f"trial {trial + 1}/{plan.replace_trials}: "
                                        f"{TITLES[system]}")
                    exist, ready = self._replace_once(tracker, namespace, system,
                                                      names[system], replicas)
                    trials[system]["exist"].append(exist)
                    trials[system]["ready"].append(ready)
        return {"replicas": replicas, "trials": plan.replace_trials,
                "seconds": trials, "namespace": namespace}

    def _replace_once(self, tracker: PodTracker, namespace: str, system: str, name: str,
                      replicas: int) -> tuple[float, float]:
        selector = labelled(owner_label(system), name)
        before = [p for p in tracker.snapshot(selector) if p.ready]
        if len(before) != replicas:
            raise RuntimeError(f"{name}: {len(before)} Ready Pods before the trial, "
                               f"expected {replicas}")
        victim = min(before, key=lambda p: p.seen)
        known = {p.uid for p in tracker.snapshot(selector)}
        started = time.monotonic()
        self.admin.delete(f"/api/v1/namespaces/{namespace}/pods/{victim.name}")

        def replaced(pods: list[PodState]) -> tuple[float, float] | None:
            new = [p for p in pods if p.uid not in known and p.live]
            live = [p for p in pods if p.live]
            if not new or len(live) != replicas or not all(p.ready for p in live):
                return None
            newest = new[0]
            assert newest.ready_at is not None
            return newest.seen - started, newest.ready_at - started

        result = tracker.wait(replaced, timeout=60, what=f"a replacement Pod for {name}",
                              selector=selector)
        # The deleted Pod must be gone before the next trial, so trials never overlap.
        tracker.wait(lambda pods: True if all(p.gone for p in pods if p.uid == victim.uid)
                     else None, timeout=60, what=f"Pod {victim.name} gone", selector=selector)
        return result

    def rollout(self, mode: Mode) -> dict[str, Any]:
        """Change the main container's image of a PodPattern and a Deployment with the same
        maxSurge and maxUnavailable; time until every Pod runs the new image and is Ready
        and no Pod with the old one is left."""
        plan = self.plan
        replicas = plan.rollout_replicas
        strategy = Rollout("25%", "25%")
        names = {PODPATTERN: "rollout-pp", DEPLOYMENT: "rollout-deploy"}
        images = {system: ROLLOUT_IMAGES[0] for system in names}
        trials: dict[str, list[float]] = {system: [] for system in names}
        with self._scenario_namespace(mode, "rollout", 3 * replicas) as (namespace, tracker):
            self._apply([
                (collection_path(system, namespace),
                 manifest(system, name, namespace, replicas, self.spec, rollout=strategy))
                for system, name in names.items()
            ])
            self._ready_pair(tracker, names, replicas, mode)
            for trial in range(plan.rollout_trials):
                order = list(names) if trial % 2 == 0 else list(reversed(names))
                for system in order:
                    self.progress.doing(f"trial {trial + 1}/{plan.rollout_trials}: "
                                        f"{TITLES[system]}")
                    old = images[system]
                    new = ROLLOUT_IMAGES[1] if old == ROLLOUT_IMAGES[0] else ROLLOUT_IMAGES[0]
                    trials[system].append(self._rollout_once(
                        tracker, namespace, system, names[system], replicas, old, new, mode))
                    images[system] = new
        return {"replicas": replicas, "max_surge": strategy.max_surge,
                "max_unavailable": strategy.max_unavailable, "trials": plan.rollout_trials,
                "seconds": trials, "namespace": namespace}

    def _rollout_once(self, tracker: PodTracker, namespace: str, system: str, name: str,
                      replicas: int, old: str, new: str, mode: Mode) -> float:
        selector = labelled(owner_label(system), name)
        body, content_type = image_patch(system, new, self.spec)
        path = f"{collection_path(system, namespace)}/{name}"
        started = time.monotonic()
        self.admin.request("PATCH", path, body, content_type=content_type)

        def done(pods: list[PodState]) -> float | None:
            if any(old in p.images for p in pods if not p.gone):
                return None
            live = [p for p in pods if p.live]
            if len(live) != replicas or not all(p.ready and new in p.images for p in live):
                return None
            return time.monotonic() - started

        return tracker.wait(done, timeout=ready_deadline(mode, 3 * replicas),
                            what=f"{name} rolled out to {new}", selector=selector,
                            tick=self._pod_progress(replicas))

    def idle(self, mode: Mode) -> dict[str, Any]:
        """The operator's resident memory and CPU with 0, 100, 1000 PodPatterns once all
        their Pods are Ready and nothing changes, and what it writes meanwhile. A fresh
        process, so earlier scenarios leave nothing behind in its memory."""
        operator = self.operator
        assert operator is not None
        plan = self.plan

        def restart() -> None:
            # After the namespace exists: the fresh process finds it in its first listing.
            self.progress.doing("restarting the operator")
            operator.stop()
            operator.start()

        samples: list[dict[str, Any]] = []
        counts = sorted(set(plan.idle_counts))
        with self._scenario_namespace(mode, "idle", max(counts),
                                      prepare=restart) as (namespace, tracker):
            created = 0
            for count in counts:
                changes = audit.AuditTail(self.cluster.audit_log) if self.audit_on else None
                if count > created:
                    self.progress.doing(f"creating PodPatterns {created + 1}..{count}")
                    self._apply([
                        (collection_path(PODPATTERN, namespace),
                         manifest(PODPATTERN, f"app-{index:04d}", namespace, 1, self.spec))
                        for index in range(created, count)
                    ])
                    created = count
                    tracker.wait(all_ready(count), timeout=ready_deadline(mode, count),
                                 what=f"{count} PodPattern Pods Ready",
                                 tick=self._pod_progress(count))
                if changes is not None:
                    self._settle(changes, namespace, (OPERATOR_USER,), time.time())
                self.progress.doing(f"settling with {count} PodPatterns",
                                    f"{plan.idle_settle_seconds:.0f}s")
                time.sleep(plan.idle_settle_seconds)
                tail = audit.AuditTail(self.cluster.audit_log) if self.audit_on else None
                before = operator.usage()
                self.progress.doing(f"measuring the idle operator with {count} PodPatterns",
                                    f"{plan.idle_seconds:.0f}s")
                time.sleep(plan.idle_seconds)
                after = operator.usage()
                sample: dict[str, Any] = {
                    "patterns": count,
                    "rss_bytes": after.rss_bytes,
                    "cpu_percent": cpu_percent(before, after),
                    "seconds": after.at - before.at,
                }
                if tail is not None:
                    writes = audit.count_writes(tail.read(audit.mentions(OPERATOR_USER)),
                                                users=[OPERATOR_USER])
                    sample["writes"] = audit.total(writes)
                    sample["writes_per_minute"] = audit.total(writes) * 60 / sample["seconds"]
                samples.append(sample)
                self.progress.say(f"  ✓ idle with {count} PodPatterns: RSS "
                                  f"{after.rss_bytes / 2**20:.1f} MiB, CPU "
                                  f"{sample['cpu_percent']:.2f}%")
        result: dict[str, Any] = {"samples": samples}
        if len(samples) >= 2:
            result["rss_bytes_per_1000"] = 1000 * slope(
                [(s["patterns"], s["rss_bytes"]) for s in samples])
        return result


def run_modes(plan: Plan, cluster: BenchCluster, progress: Progress, work_dir: Path,
              results: list[dict[str, Any]], notes: list[str]) -> None:
    """Every mode of the plan, appended to `results` as it runs (and `notes` with them)."""
    runner = Runner(plan, cluster, progress, work_dir)
    runner.notes = notes
    for index, key in enumerate(plan.modes):
        mode = MODES[key]
        started = time.monotonic()
        progress.say(f"Mode {key}: {mode.title} ({mode.describe()})")
        result: dict[str, Any] = {}
        results.append(result)
        try:
            runner.run_mode(mode, result, idle=index == len(plan.modes) - 1)
        finally:
            result["seconds"] = time.monotonic() - started
        progress.say(f"Mode {key} done in {fmt_duration(result['seconds'])}")
