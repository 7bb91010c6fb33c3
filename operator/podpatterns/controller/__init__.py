"""The operator: keeps every PodPattern's Pods, or its workload object, as the spec says.

Read it in the order a change travels (docs/controller.md walks through it):

- `watches`: every watch, index and trigger, in one table. A trigger only kicks the
  PodPattern's key into the work queue. `handlers` is the rest of the Kopf wiring:
  settings, start-up (which builds everything below), login and clean-up.
- `workqueue`: one reconcile at a time per key, kicks during a run coalesced into one
  rerun; its backoff is the only one (a reconcile returns a `Retry`).
- `reconciler`: one reconcile, top to bottom, and the only writer of status. It observes
  (the indexes, `state.PatternState`), renders (`spec.interpret` -> render.render_pattern),
  runs the steps and computes the status.
- the steps, each given a `context.StepContext` and returning a result: `owned` (the
  ConfigMaps and the Service), `podset` (the Pods of kind Pod) and `workloads` (the
  workload object of the other kinds); `profiles.UsedBy` keeps SidecarProfiles' usedBy.
- pure values and decisions, no I/O: `plan`, `status`, `workload_status`, `pods`,
  `intent`, `state`.
- `kube`, `events` (`EventRecorder` decides, `EventSink` queues and posts): the client side.
"""
