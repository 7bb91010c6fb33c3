"""Pinned versions of everything the dev cluster builds."""

KUBERNETES = "v1.37.2"
ETCD = "v3.7.3"
KWOK = "v0.8.0"


def staging_version(kubernetes: str = KUBERNETES) -> str:
    """k8s.io/api and friends are published as v0.MINOR.PATCH for Kubernetes v1.MINOR.PATCH."""
    return "v0." + kubernetes.removeprefix("v1.")
