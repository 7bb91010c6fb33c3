"""The CRDs, for the tests here that check what the API server makes of the schema."""

from tests.e2e.conftest import crds

__all__ = ["crds"]
