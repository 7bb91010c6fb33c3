"""Objects the operator owns, grouped by PodPattern, from Kopf's indexes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str]


class LabelledObjects:
    """Objects labelled with a pattern (ConfigMaps, Services, workload objects), read from
    one or more Kopf indexes keyed by (namespace, pattern): no list call per reconcile."""

    def __init__(self, indexes: Iterable[Mapping[Any, Iterable[Any]]]) -> None:
        self._indexes = list(indexes)

    def objects(self, key: Key) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for index in self._indexes:
            found.extend(dict(body) for body in index.get(key, ()))
        return found
