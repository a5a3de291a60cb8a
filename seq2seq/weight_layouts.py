"""Weight layouts of saved models and checkpoints, the upgrade from layout 1 to layout 2, and float16 storage.

Layout 2 holds the output layer in `head` (an OutputProjection); layout 1,
the models of version 0.1 (the shipped ones among them), in the model
itself. Model directories record their layout in `manifest.json`
(:mod:`seq2seq.model_dirs`); a weights file tells it by its groups.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

LAYOUT = 2


def weights_layout(path: str | Path) -> int:
    """The weight layout of a `.weights.h5` file (an epoch checkpoint, a resume backup): 1 or 2."""
    import h5py

    with h5py.File(path, "r") as store:
        return 2 if "head" in store else 1


def _move_layout_1_weights(weights: Path, tied: bool) -> None:
    """Moves the output layer's weights of a layout-1 weights file to where layout 2 keeps them.

    Layout 1 kept the output bias of a tied model as the model's own variable
    (`vars/0`) and the output `Dense` (untied) or the tied projection under
    `layers/dense*`; layout 2 keeps them in `head` (kernel and bias, or bias
    and `head/projection`). Every other model weight has the same path in
    both. (Optimizer slots are left alone: their order changed for tied
    models, which is why layout-1 backups cannot be resumed.)
    """
    import h5py

    with h5py.File(weights, "r+") as store:
        dense = sorted(name for name in store.get("layers", {}) if name.startswith("dense"))
        if tied:
            moves = [("vars/0", "head/vars/0")] + [
                (f"layers/{name}/vars/0", "head/projection/vars/0") for name in dense
            ]
        else:
            moves = [(f"layers/{dense[0]}/vars/{index}", f"head/vars/{index}") for index in (0, 1)]
        for source, target in moves:
            store.require_group(target.rsplit("/", 1)[0])
            store.move(source, target)


def upgrade_weights_file(path: Path, folder: Path, tied: bool) -> Path:
    """A layout-2 copy in `folder` of the layout-1 weights file `path` (see `_move_layout_1_weights`)."""
    copy = folder / Path(path).name
    shutil.copyfile(path, copy)
    _move_layout_1_weights(copy, tied)
    return copy


def upgrade_layout_1(path: Path, folder: Path) -> Path:
    """A copy of a layout-1 `model.keras` in `folder`, with its weights where layout 2 keeps them.

    The weights move as in `_move_layout_1_weights`; the architecture
    arguments of layout 1 are read by the models' `from_config`.
    """
    copy, weights = folder / "model.keras", folder / "model.weights.h5"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(copy, "w") as new:
        tied = json.loads(old.read("config.json"))["config"].get("tie_embeddings", False)
        weights.write_bytes(old.read("model.weights.h5"))
        _move_layout_1_weights(weights, tied)
        for name in old.namelist():
            if name != "model.weights.h5":
                new.writestr(name, old.read(name))
        new.write(weights, "model.weights.h5")
    return copy


def _float32_policies(item):
    """`item` (a Keras config) with every float16 dtype policy and dtype made float32."""
    if isinstance(item, dict):
        if item.get("class_name") == "DTypePolicy" and item.get("config", {}).get("name") == "float16":
            return {**item, "config": {**item["config"], "name": "float32"}}
        return {
            key: "float32" if key == "dtype" and value == "float16" else _float32_policies(value)
            for key, value in item.items()
        }
    if isinstance(item, list):
        return [_float32_policies(value) for value in item]
    return item


def stored_in_float16(path: Path) -> bool:
    """Whether the `model.keras` at `path` holds a model whose layers have float16 policies (float16 storage)."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return _float32_policies(config) != config


def float32_copy(path: Path, folder: Path) -> Path:
    """A copy of the float16-stored `model.keras` at `path` in `folder`, whose layers are float32.

    Loading it builds float32 layers and casts the stored float16 weights
    into them. Loading the float16 model itself would create float16 layers
    first, and some backends cannot initialise those (JAX and NumPy have no
    float16 QR for the orthogonal initializer of recurrent kernels).
    """
    copy = folder / "model.keras"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(copy, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "config.json":
                data = json.dumps(_float32_policies(json.loads(data))).encode("utf-8")
            new.writestr(name, data)
    return copy
