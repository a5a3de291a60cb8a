"""PNG figures for evaluation reports (matplotlib, no display needed).

Each function returns the PNG's bytes, so a report can be written atomically
together with its figures.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path

from seq2seq.errors import UserError
from seq2seq.history import history_columns, read_history


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def bleu_by_length(buckets: Sequence[dict], unit: str) -> bytes:
    """Bar chart of BLEU per length bucket, each bar labelled with its sentence count."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.2))
    bars = axes.bar([bucket["range"] for bucket in buckets], [bucket["bleu"] for bucket in buckets], color="#4477aa")
    for bar, bucket in zip(bars, buckets):
        axes.annotate(
            f"n={bucket['sentences']}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set_xlabel(f"length ({unit})")
    axes.set_ylabel("BLEU")
    axes.set_title("BLEU by length")
    axes.margins(y=0.15)
    return _png(figure)


def attention_heatmap(weights, source_pieces: Sequence[str], target_pieces: Sequence[str]) -> bytes:
    """Heatmap of one sentence's attention: output pieces (rows) over source pieces (columns)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(0.35 * len(source_pieces) + 2, 0.3 * len(target_pieces) + 1.5))
    axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source_pieces)), source_pieces, rotation=90, fontsize=8)
    axes.set_yticks(range(len(target_pieces)), target_pieces, fontsize=8)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    return _png(figure)


def read_training_history(model_dir: str | Path) -> dict[str, list[float]] | None:
    """Per-epoch columns of `history.csv` in the model directory or its run folder, or None.

    Training copies `history.csv` into the model directory when it ends; a
    model exported mid-run finds it one level up, in its run folder.
    """
    for folder in (Path(model_dir), Path(model_dir).parent):
        path = folder / "history.csv"
        if path.is_file():
            try:
                rows = read_history(path)
            except UserError as error:  # a damaged history costs the curves, not the report
                print(f"warning: {error} (no training curves)", file=sys.stderr)
                return None
            return history_columns(rows) if rows else None
    return None


def training_curves(history: dict[str, list[float]]) -> bytes:
    """Training and validation loss per epoch, and validation BLEU when it was measured."""
    plt = _pyplot()
    with_bleu = "val_bleu" in history
    figure, panels = plt.subplots(1, 2 if with_bleu else 1, figsize=(10 if with_bleu else 5.5, 3.2))
    loss_axes = panels[0] if with_bleu else panels
    epochs = [int(epoch) + 1 for epoch in history["epoch"]]
    for key, label in (("loss", "training loss"), ("val_loss", "validation loss")):
        if key in history:
            loss_axes.plot(epochs, history[key], marker="o", markersize=3, label=label)
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("loss (nats per token)")
    loss_axes.legend()
    if with_bleu:
        panels[1].plot(epochs, history["val_bleu"], marker="o", markersize=3, color="#228833")
        panels[1].set_xlabel("epoch")
        panels[1].set_ylabel("validation BLEU")
    return _png(figure)


def attention_on_images(images: Sequence, grids: Sequence, captions: Sequence[Sequence[str]]) -> bytes:
    """One row per image: the image, then one panel per output word with its attention laid on it.

    `grids[k]` is `(len(captions[k]), rows, columns)`: the attention over the
    encoder's grid at each word; each cell's weight covers the pixels it reads.
    """
    import numpy as np

    plt = _pyplot()
    columns = 1 + max(len(words) for words in captions)
    figure, axes = plt.subplots(len(images), columns, figsize=(1.2 * columns, 1.4 * len(images)), squeeze=False)
    for row, image, grid, words in zip(axes, images, grids, captions):
        row[0].imshow(image)
        row[0].set_title("image", fontsize=7)
        scale = image.shape[0] // grid.shape[1]
        for axis, word, weights in zip(row[1:], words, grid):
            axis.imshow(image)
            axis.imshow(
                np.kron(weights, np.ones((scale, scale))), cmap="magma", alpha=0.6, vmin=0.0, vmax=float(weights.max())
            )
            axis.set_title(word, fontsize=7)
        for axis in row:
            axis.set_axis_off()
    return _png(figure)
