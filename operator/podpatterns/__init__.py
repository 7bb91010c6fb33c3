"""podpatterns: a Kubernetes operator for multi-container Pod patterns."""

__version__ = "0.1.0"
