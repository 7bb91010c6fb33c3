"""A real local Kubernetes cluster for tests and the demo.

The control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) runs as
local processes built from the pinned Kubernetes Go modules, kwok simulates nodes, and the
operator never depends on any of this: it is a tool, like controller-runtime's envtest.
"""
