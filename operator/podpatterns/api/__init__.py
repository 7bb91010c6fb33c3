"""The podpatterns API: models of the custom resources, their CRDs and their validation.

Nothing here does I/O or imports Kopf or the Kubernetes client, so the CLI, the tests and
the controller all share one definition of what a valid PodPattern is.
"""
