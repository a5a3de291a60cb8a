"""Reading a run's `history.csv` (Keras' CSVLogger: one row per finished epoch).

The one reader for every consumer (report figures, the experiments table):
cells that are empty, "NA" (CSVLogger's mark for a value missing that
epoch) or malformed are left out of the row, and when a resumed run logged
an epoch twice, the later row wins.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from seq2seq.errors import UserError


def _number(cell) -> float | None:
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def read_history(path: str | Path) -> list[dict[str, float]]:
    """The rows of `history.csv` as numbers, one per epoch in epoch order (see the module doc)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise UserError(f"{path}: training history not found.") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path}: cannot read the training history ({error}).") from None
    by_epoch: dict[int, dict[str, float]] = {}
    for number, row in enumerate(rows, start=2):
        values = {
            key: value
            for key, value in ((key, _number(cell)) for key, cell in row.items())
            if key is not None and value is not None
        }
        if "epoch" not in values:
            raise UserError(f"{path}, line {number}: no epoch number; not a history.csv of `seq2seq train`.")
        by_epoch[int(values["epoch"])] = values
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def history_columns(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    """Per-key columns of `read_history` rows, NaN where an epoch lacks the key."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return {key: [row.get(key, math.nan) for row in rows] for key in keys}
