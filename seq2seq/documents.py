"""The JSON the toolkit writes (metrics, reports, states, logs): strict JSON that every parser reads.

Python's `json` writes a float that is not finite as `NaN` or `Infinity`,
which JSON does not allow (a diverged run's loss is one). Here such a number
becomes `null`, the JSON for "no value", and nothing else changes.
"""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every float that is not finite (NaN, ±infinity), at any depth, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def json_text(value: Any, indent: int | None = None) -> str:
    """`value` as strict JSON text (see the module doc); numpy scalars are written as Python numbers."""
    import json

    return json.dumps(finite(value), indent=indent, allow_nan=False, default=_plain)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists (`json`'s fallback for unknown types)."""
    if hasattr(value, "tolist"):
        return finite(value.tolist())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
