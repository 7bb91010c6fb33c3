"""Benchmark: podpatterns against kube-controller-manager on the dev cluster.

`python -m bench --help` (or `make bench`) runs it; see docs/benchmarks.md for what is
measured and how.
"""
