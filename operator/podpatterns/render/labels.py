"""Every label and annotation key the operator writes or selects by, in one place.

The renderer puts them on the objects it builds, the controller's watches select by them
and read them back, and the benchmark labels its objects with them: a key defined twice
could drift, and a watch would silently stop seeing what the renderer labels.
"""

from __future__ import annotations

PREFIX = "podpatterns.dev/"

# On every object a PodPattern owns: which PodPattern. The watches of Pods, workload
# objects, ConfigMaps and Services select by its presence.
PATTERN_LABEL = "podpatterns.dev/pattern"
# On every Pod (and Pod template): the hash of the template it runs.
HASH_LABEL = "podpatterns.dev/template-hash"
# On the Pods of a workload object: which kind of object runs them. The Pods of kind Pod
# (owned by the PodPattern itself) do not carry it. It tells the Pods of an old workload
# object from those of the new one while the kind changes, and the operator's own Pods
# from both.
WORKLOAD_LABEL = "podpatterns.dev/workload"
# On a generated ConfigMap: which container of the Pod it configures, for `kubectl get -l`.
CONTAINER_LABEL = "podpatterns.dev/container"

# On every workload object: the Pod template it runs, for `kubectl get -o yaml` readers
# and for status. What rolls the Pods is the template itself, whose hash label changes
# with anything that must replace the Pods (including generated config and profiles).
TEMPLATE_HASH_ANNOTATION = "podpatterns.dev/template-hash"
# A digest of the whole object as the operator applies it (this annotation left out): the
# operator compares it with the live object's instead of comparing fields the API server
# defaults or drops, so an unchanged spec costs no write.
APPLIED_HASH_ANNOTATION = "podpatterns.dev/applied-hash"
# A digest of the fields the API server refuses to change in place (a Job's template and
# completions, a StatefulSet's claim templates and service name). When it differs, the
# object is replaced instead of updated.
IMMUTABLE_HASH_ANNOTATION = "podpatterns.dev/immutable-hash"
# On the PodTemplate `podpatterns render --template` prints: which volumes stand in for a
# StatefulSet's claim templates.
CLAIM_TEMPLATES_ANNOTATION = "podpatterns.dev/claim-templates"
