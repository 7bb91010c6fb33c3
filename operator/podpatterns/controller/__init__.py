"""The operator for PodPatterns of workload kind Pod.

Layers, outermost first:

- `handlers`: the Kopf registry. Watches PodPatterns and labelled Pods, keeps an index of
  the Pods, and does nothing but hand keys to the work queue.
- `workqueue`: coalesces triggers per PodPattern so that one reconcile runs at a time for
  each, however many Pod events arrive.
- `reconciler`: reads the cached state, calls the pure functions, applies their result.
- `plan`, `status`, `pods`: pure functions and values; no I/O, no Kopf, no client.
- `kube`, `events`: the only code that talks to the API server.
"""
