"""The Pod template hash: a short, stable name for "what the Pods should look like"."""

from __future__ import annotations

import hashlib
import json
from typing import Any

HASH_LENGTH = 10


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text, whatever
    the order their dicts were built in."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(value: Any, length: int = HASH_LENGTH) -> str:
    """A hex digest of `value`'s canonical JSON, cut to `length` characters.

    Ten hex characters (40 bits) make an accidental collision between two templates of one
    PodPattern vanishingly unlikely, and keep Pod names readable.
    """
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]
