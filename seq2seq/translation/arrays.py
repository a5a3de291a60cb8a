"""Training a translator from token arrays, under any Keras backend: for an accelerator machine without TensorFlow.

`seq2seq train` streams its corpora through tf.data. A machine with a GPU and
JAX but no TensorFlow trains the same model (the same config, the same
`build_model`) from token ids prepared beforehand, in three steps:

    python -m seq2seq.translation.arrays export CONFIG --vocab DIR -o corpora.npz
    KERAS_BACKEND=jax python -m seq2seq.translation.arrays train CONFIG corpora.npz -o OUT --minutes 7
    python -m seq2seq.translation.arrays import CONFIG OUT --vocab DIR -o MODEL_DIR

- `export` (needs TensorFlow, for the corpus readers) encodes every corpus
  of `data.train` and `data.valid` with the SentencePiece models of the
  model directory `--vocab` and drops training pairs over the length limits.
- `train` samples training sentences from the corpora by their `weight`
  (each corpus read in a fresh random order each time it is used up),
  groups them in the length buckets `--buckets` (few, so that a compiling
  backend compiles few shapes) into batches of at most
  `training.max_tokens` padded tokens, and trains for `--minutes` of
  wall-clock time. "Epochs" are `training.steps_per_epoch` steps. The
  learning rate is `training.learning_rate`, a quarter and a half of it in
  the first two epochs, then held until 40 % of the time and lowered
  linearly to 5 % of it at the end (set at epoch starts, from the time
  used). The weights after each epoch of the last 15 % of
  the time are averaged; the mean loss over the validation sets picks the
  average or the last weights. Weights come back as float16 `weights-K.npz`
  chunks of about 15 MB (a larger variable gets a chunk of its own), with
  `summary.json` (history, validation loss per set). The corpus weights
  are read from CONFIG at training time, so they can change without a new
  export.
- `import` builds the model of CONFIG, loads those weights and writes a
  model directory (float16 storage).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np

from pipelines.arrays import bucketed, pack, unpack, weighted_batches
from seq2seq import config as config_lib
from seq2seq.core.specials import BOS_ID, EOS_ID
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write
from seq2seq.translation.config import TranslationConfig

CHUNK_BYTES = 15_000_000


def export_arrays(config: TranslationConfig, vocab_dir: Path, output: Path) -> dict:
    """Writes every training and validation corpus, encoded, to `output` (npz); returns the pair counts."""
    from seq2seq.core.subwords import SubwordVocabulary
    from seq2seq.translation.data import corpus_text_pairs

    source, target = SubwordVocabulary.load_pair(vocab_dir)
    arrays, counts = {}, {}
    for split in ("train", "valid"):
        for index, (label, pairs) in enumerate(corpus_text_pairs(config, split)):
            encoded = [(source.encode(s), target.encode(t)) for s, t in pairs]
            if split == "train":
                encoded = [
                    (s, t)
                    for s, t in encoded
                    if 1 <= len(s) <= config.data.max_source_length and len(t) + 1 <= config.data.max_target_length
                ]
            counts[f"{split}/{label}"] = [len(encoded), len(pairs)]
            for side, sequences in (("source", [s for s, _ in encoded]), ("target", [t for _, t in encoded])):
                arrays[f"{split}{index}_{side}"], arrays[f"{split}{index}_{side}_offsets"] = pack(sequences)
            arrays[f"{split}{index}_label"] = np.array(label)
    arrays["vocab_sizes"] = np.array([len(source), len(target)], np.int64)
    with atomic_write(output, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return counts


def load_corpora(path: Path) -> tuple[dict[str, list[tuple[str, list[np.ndarray], list[np.ndarray]]]], list[int]]:
    """`({split: [(label, sources, targets) of each corpus]}, [source, target vocabulary size])` of an exported file."""

    def refused(reason) -> UserError:
        return UserError(f"{path}: not an exported corpus file ({reason}); write one with `export`.")

    try:
        data = np.load(path)
    except (OSError, ValueError) as error:
        raise refused(error) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise refused("one array, not an archive")
    with data:
        if "vocab_sizes" not in data:
            raise refused("no vocab_sizes array")
        try:  # members are read lazily: a partly written or damaged archive fails here
            splits = {}
            for split in ("train", "valid"):
                corpora, index = [], 0
                while f"{split}{index}_source" in data:
                    key = f"{split}{index}"
                    corpora.append(
                        (
                            str(data[f"{key}_label"]),
                            unpack(data[f"{key}_source"], data[f"{key}_source_offsets"]),
                            unpack(data[f"{key}_target"], data[f"{key}_target_offsets"]),
                        )
                    )
                    index += 1
                if not corpora:
                    raise UserError(f"{path}: holds no {split} corpus; write it with `export`.")
                splits[split] = corpora
            return splits, [int(size) for size in data["vocab_sizes"]]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise refused(error) from None


def learning_rate(peak: float, epoch: int, used: float) -> float:
    """The schedule of `train` (see the module doc): `used` is the share of the time spent."""
    if epoch < 2:
        return peak * (epoch + 1) / 4
    if used <= 0.4:
        return peak
    return peak * max(0.05, 1.0 - 0.95 * (used - 0.4) / 0.6)


class TimedSchedule(keras.callbacks.Callback):
    """Sets the learning rate at each epoch start, averages late weights, stops when the time is up."""

    def __init__(self, peak: float, seconds: float, average_share: float):
        super().__init__()
        self.peak, self.seconds, self.average_share = peak, seconds, average_share
        self.start = time.monotonic()
        self.total, self.averaged, self.history = None, 0, []

    def used(self) -> float:
        return (time.monotonic() - self.start) / self.seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate.assign(learning_rate(self.peak, epoch, self.used()))

    def on_epoch_end(self, epoch, logs=None):
        used = self.used()
        self.history.append(
            {
                "epoch": epoch + 1,
                "seconds": round(time.monotonic() - self.start, 1),
                "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
                **{key: float(value) for key, value in (logs or {}).items()},
            }
        )
        print(json.dumps(self.history[-1]), flush=True)
        if used >= 1.0 - self.average_share:
            weights = [np.asarray(w, np.float64) for w in self.model.get_weights()]
            self.total = weights if self.total is None else [a + b for a, b in zip(self.total, weights)]
            self.averaged += 1
        if used >= 1.0:
            self.model.stop_training = True


def validation_loss(model, corpora, buckets: list[int], max_tokens: int) -> dict[str, float]:
    """Mean cross-entropy (unsmoothed: the log of the Perplexity metric) per target token on each validation corpus.

    Pairs longer than the longest bucket are cut to it.
    """
    losses = {}
    for label, sources, targets in corpora:
        pairs = [(s[: buckets[-1]], t[: buckets[-1] - 1]) for s, t in zip(sources, targets)]
        batches, _ = bucketed(pairs, buckets, max_tokens, BOS_ID, EOS_ID, rest=True)
        result = model.evaluate((batch for batch in batches), steps=len(batches), verbose=0, return_dict=True)
        losses[label] = float(np.log(result["perplexity"]))
    return losses


def save_weight_chunks(model, folder: Path) -> list[Path]:
    """`folder/weights-K.npz`: every variable of `model` (by position and path) as float16, CHUNK_BYTES a file.

    A variable larger than CHUNK_BYTES gets a file of its own.
    """
    folder.mkdir(parents=True, exist_ok=True)
    chunks, current, size = [], {}, 0
    for position, variable in enumerate(model.weights):
        value = np.asarray(variable.numpy())
        value = value.astype(np.float16) if np.issubdtype(value.dtype, np.floating) else value
        if current and size + value.nbytes > CHUNK_BYTES:
            chunks.append(current)
            current, size = {}, 0
        current[f"{position:04d}|{variable.path}"] = value
        size += value.nbytes
    chunks.append(current)
    paths = []
    for number, chunk in enumerate(chunks):
        paths.append(folder / f"weights-{number}.npz")
        with atomic_write(paths[-1], "wb") as handle:
            np.savez(handle, **chunk)
    return paths


def load_weight_chunks(model, folder: Path) -> None:
    """Assigns the variables written by `save_weight_chunks`; every one must match by position, path and shape."""
    values = {}
    for path in sorted(folder.glob("weights-*.npz")):
        with np.load(path) as chunk:
            values.update({key: chunk[key] for key in chunk.files})
    variables = model.weights
    if len(values) != len(variables):
        raise UserError(
            f"{folder}: {len(values)} weights for a model of {len(variables)}; "
            "the config is not the one that trained them."
        )
    for position, variable in enumerate(variables):
        key = f"{position:04d}|{variable.path}"
        if key not in values or tuple(values[key].shape) != tuple(variable.shape):
            raise UserError(
                f"{folder}: no weight {key} of shape {tuple(variable.shape)}; "
                "the config is not the one that trained them."
            )
        variable.assign(values[key].astype(variable.dtype))


def train_arrays(
    config: TranslationConfig,
    corpora_file: Path,
    output: Path,
    minutes: float,
    buckets: list[int],
    average_share: float = 0.15,
) -> dict:
    """The `train` step (see the module doc); returns the summary it writes to `output/summary.json`."""
    from seq2seq.models.encoder_decoder import build_model
    from seq2seq.training import compile_model, configure_precision

    splits, (source_size, target_size) = load_corpora(corpora_file)
    train, valid = splits["train"], splits["valid"]
    weights = [corpus.weight for corpus in config.data.train]
    if len(weights) != len(train):
        raise UserError(
            f"{corpora_file}: {len(train)} training corpora, the config has {len(weights)}; "
            "export it again from this config."
        )
    keras.utils.set_random_seed(config.training.seed)
    precision = configure_precision(config.training.mixed_precision, announce=True)
    print(f"backend: {keras.backend.backend()}", flush=True)
    model = build_model(config.model, source_size, target_size)
    model.build()
    compile_model(model, config)
    schedule = TimedSchedule(config.training.learning_rate, minutes * 60, average_share)
    batches = weighted_batches(
        train, weights, buckets, config.training.max_tokens, BOS_ID, EOS_ID, config.training.seed
    )
    model.fit(
        batches,
        epochs=100_000,
        steps_per_epoch=config.training.steps_per_epoch or 100,
        callbacks=[schedule],
        verbose=2,
        shuffle=False,
    )
    save_weight_chunks(model, output)  # the last weights, in case validation does not finish
    last = validation_loss(model, valid, buckets, config.training.max_tokens)
    summary = {
        "precision": precision,
        "parameters": model.count_params(),
        "history": schedule.history,
        "validation_loss_last": last,
        "averaged_epochs": schedule.averaged,
    }
    chosen = "last"
    if schedule.averaged > 1:
        final = model.get_weights()
        model.set_weights([total / schedule.averaged for total in schedule.total])
        averaged = validation_loss(model, valid, buckets, config.training.max_tokens)
        summary["validation_loss_average"] = averaged
        if np.mean(list(averaged.values())) <= np.mean(list(last.values())):
            chosen = "average"
        else:
            model.set_weights(final)
    summary["chosen"] = chosen
    if chosen == "average":
        save_weight_chunks(model, output)
    with atomic_write(output / "summary.json") as handle:
        json.dump(summary, handle, indent=1)
    return summary


def import_arrays(config: TranslationConfig, weights_dir: Path, vocab_dir: Path, output: Path) -> Path:
    """The `import` step: a model directory from `train`'s weights and `--vocab`'s SentencePiece models."""
    from seq2seq.core.subwords import SubwordVocabulary
    from seq2seq.model_dirs import save_translation_model
    from seq2seq.models.encoder_decoder import build_model

    source, target = SubwordVocabulary.load_pair(vocab_dir)
    model = build_model(config.model, len(source), len(target))
    model.build()
    load_weight_chunks(model, weights_dir)
    return save_translation_model(output, model, source, target, experiment_config=config, storage_dtype="float16")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seq2seq.translation.arrays", description=__doc__.split("\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    for name in ("export", "train", "import"):
        step = steps.add_parser(name)
        step.add_argument("config")
        step.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        if name == "export":
            step.add_argument("--vocab", required=True, help="model directory with source.spm and target.spm")
        if name == "train":
            step.add_argument("corpora", help="the file `export` wrote")
            step.add_argument("--minutes", type=float, required=True, help="wall-clock training time")
            step.add_argument("--buckets", default="16,32,64,101", help="length buckets (longest last)")
        if name == "import":
            step.add_argument("weights", help="the folder `train` wrote")
            step.add_argument("--vocab", required=True, help="model directory with source.spm and target.spm")
        step.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    try:
        config = config_lib.load(TranslationConfig, args.config, args.set)
        if args.step == "export":
            print(json.dumps(export_arrays(config, Path(args.vocab), Path(args.output))))
        elif args.step == "train":
            try:
                buckets = sorted(int(b) for b in args.buckets.split(","))
            except ValueError:
                raise UserError(f"--buckets: {args.buckets!r} is not a comma-separated list of lengths.") from None
            train_arrays(config, Path(args.corpora), Path(args.output), args.minutes, buckets)
        else:
            print(import_arrays(config, Path(args.weights), Path(args.vocab), Path(args.output)))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
