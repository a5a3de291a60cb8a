"""Training a translator from token arrays: the one runner, fed NumPy batches, under any Keras backend.

`seq2seq train` streams its corpora through tf.data. A machine with a GPU and
JAX but no TensorFlow trains the same model (the same config, the same
`build_model`, the same runner: lock, resume backup, best model, early
stopping) from token ids prepared beforehand:

    seq2seq arrays export CONFIG --vocab DIR -o corpora.npz
    KERAS_BACKEND=jax seq2seq arrays train CONFIG corpora.npz [--minutes M] [--chunks FOLDER]
    seq2seq arrays import CONFIG FOLDER --vocab DIR -o MODEL_DIR

- `export` (needs TensorFlow, for the corpus readers) encodes every corpus
  of `data.train` and `data.valid` with the SentencePiece models of the
  model directory `--vocab`, drops training pairs over the length limits,
  and stores the two SentencePiece models with the ids: the file is all
  `train` needs.
- `train` is :func:`seq2seq.runner.train` with :class:`ArrayTranslationTask`:
  each epoch is `training.steps_per_epoch` batches (100 when null) of
  sentences drawn from the corpora by their `weight` (the draws of epoch k
  depend only on `training.seed` and k, so a resumed run reads what the
  uninterrupted one would), in the length buckets `--buckets` (few, so that
  a compiling backend compiles few shapes), at most `training.max_tokens`
  padded tokens a batch. Validation loss and greedy validation BLEU are
  measured on the exported validation corpora (BLEU against their
  SentencePiece-decoded references). The best model is
  `run_dir/model`, as for `seq2seq train`. `--minutes` ends the run after
  the first epoch that ends past that wall-clock time; `--chunks FOLDER`
  writes the best model's weights as float16 files of at most 15 MB each
  (for a machine that returns only small files).
- `import` builds the model of CONFIG, loads such chunks and writes a model
  directory (float16 storage).
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import keras
import numpy as np

from pipelines.arrays import bucketed, pack, unpack, weighted_batches
from seq2seq.core.specials import BOS_ID, EOS_ID
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write
from seq2seq.runner import TaskData, train
from seq2seq.translation.config import TranslationConfig
from seq2seq.translation.training import TranslationTask

CHUNK_BYTES = 15_000_000
DEFAULT_BUCKETS = (16, 32, 64, 101)
DEFAULT_STEPS = 100  # an epoch's batches when training.steps_per_epoch is null (the draws never run out)


def export_arrays(config: TranslationConfig, vocab_dir: Path, output: Path) -> dict:
    """Writes every training and validation corpus, encoded, and the vocabularies to `output` (npz).

    Returns the pair counts (`{"train/LABEL": [kept, read]}`).
    """
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
    arrays["source_spm"] = np.frombuffer(source.model_proto, np.uint8)
    arrays["target_spm"] = np.frombuffer(target.model_proto, np.uint8)
    with atomic_write(output, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return counts


def load_corpora(path: Path) -> tuple[dict[str, list[tuple[str, list[np.ndarray], list[np.ndarray]]]], tuple]:
    """`({split: [(label, sources, targets) of each corpus]}, (source, target vocabulary))` of an exported file."""
    from seq2seq.core.subwords import SubwordVocabulary

    def refused(reason) -> UserError:
        return UserError(f"{path}: not an exported corpus file ({reason}); write one with `seq2seq arrays export`.")

    try:
        data = np.load(path)
    except (OSError, ValueError) as error:
        raise refused(error) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise refused("one array, not an archive")
    with data:
        for name in ("vocab_sizes", "source_spm", "target_spm"):
            if name not in data:
                raise refused(f"no {name} array")
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
                    raise UserError(f"{path}: holds no {split} corpus; write it with `seq2seq arrays export`.")
                splits[split] = corpora
            vocabularies = tuple(SubwordVocabulary(data[name].tobytes()) for name in ("source_spm", "target_spm"))
            sizes = [int(size) for size in data["vocab_sizes"]]
        except (OSError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as error:
            raise refused(error) from None
    if sizes != [len(vocabulary) for vocabulary in vocabularies]:
        raise refused(f"vocab_sizes {sizes} do not match its SentencePiece models")
    return splits, vocabularies


class EpochCounter:
    """The epoch being trained, set by :class:`~seq2seq.callbacks.EpochNumber` (as the tf.data pipeline's variable)."""

    def __init__(self):
        self.value = 0

    def assign(self, value: int) -> None:
        self.value = int(value)


class EpochBatches(keras.utils.PyDataset):
    """An epoch of training batches drawn by weight; the draws of epoch k depend only on `seed` and k."""

    def __init__(self, corpora, weights, buckets, max_tokens: int, seed: int, steps: int, epoch: EpochCounter):
        super().__init__()
        self.arguments = (corpora, weights, buckets, max_tokens, BOS_ID, EOS_ID)
        self.seed, self.steps, self.epoch = seed, steps, epoch
        self.drawn_for, self.batches = None, []

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        if self.drawn_for != self.epoch.value:
            stream = weighted_batches(*self.arguments, seed=[self.seed, self.epoch.value], pool=10_000)
            self.batches = [next(stream) for _ in range(self.steps)]
            self.drawn_for = self.epoch.value
        return self.batches[index]


class FixedBatches(keras.utils.PyDataset):
    """The validation batches, the same every epoch."""

    def __init__(self, batches: list):
        super().__init__()
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        return self.batches[index]


class StopAfter(keras.callbacks.Callback):
    """Ends training after the first epoch that ends `minutes` after training started."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds, self.start = minutes * 60, time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self.start >= self.seconds:
            print(f"--minutes: {self.seconds / 60:g} minutes have passed; training ends.", flush=True)
            self.model.stop_training = True


class ArrayTranslationTask(TranslationTask):
    """Translation from an exported corpus file: NumPy batches instead of tf.data, on one device."""

    distributed = False

    def __init__(self, corpora_file: Path, buckets=DEFAULT_BUCKETS, minutes: float | None = None, chunks=None):
        self.corpora_file, self.buckets = Path(corpora_file), sorted(buckets)
        self.minutes, self.chunks = minutes, chunks and Path(chunks)

    def check(self, config: TranslationConfig) -> None:
        super().check(config)
        if config.training.distribute != "none":
            raise UserError(
                f"training.distribute={config.training.distribute!r}: training from arrays runs on one device; "
                "set training.distribute: none."
            )

    def prepare(self, config: TranslationConfig, run_dir: Path, chief: bool) -> TaskData:
        splits, (source, target) = load_corpora(self.corpora_file)
        train_corpora, valid_corpora = splits["train"], splits["valid"]
        weights = [corpus.weight for corpus in config.data.train]
        if len(weights) != len(train_corpora):
            raise UserError(
                f"{self.corpora_file}: {len(train_corpora)} training corpora, the config has {len(weights)}; "
                "export it again from this config."
            )
        for name, vocabulary in (("source.spm", source), ("target.spm", target)):
            existing = run_dir / name
            if not existing.exists():
                vocabulary.save(existing)
            elif existing.read_bytes() != vocabulary.model_proto:
                raise UserError(
                    f"{existing}: not the vocabulary of {self.corpora_file}; use a new run_dir "
                    "or export the corpora with this run's vocabularies."
                )
        longest, max_tokens = self.buckets[-1], config.training.max_tokens
        epoch = EpochCounter()
        steps = config.training.steps_per_epoch or DEFAULT_STEPS
        train_batches = EpochBatches(
            train_corpora, weights, self.buckets, max_tokens, config.training.seed, steps, epoch
        )
        valid = []
        for _, sources, targets in valid_corpora:  # pairs longer than the longest bucket are cut to it
            pairs = [(s[:longest], t[: longest - 1]) for s, t in zip(sources, targets)]
            valid += bucketed(pairs, self.buckets, max_tokens, BOS_ID, EOS_ID, rest=True)[0]
        sets = [
            (label, [source.decode(ids) for ids in sources], [target.decode(ids) for ids in targets])
            for label, sources, targets in valid_corpora
        ]
        return TaskData(train_batches, FixedBatches(valid), (source, target), epoch, {"valid_sets": sets})

    def measurements(self, model, config, data: TaskData, run_dir: Path, keep_best, chief: bool) -> list:
        measurements = super().measurements(model, config, data, run_dir, keep_best, chief)
        return measurements + ([StopAfter(self.minutes)] if self.minutes is not None else [])

    def finish(self, config, data: TaskData, model_dir: Path) -> None:
        super().finish(config, data, model_dir)
        if self.chunks is not None:
            from seq2seq.model_dirs import load_translation_model

            print("chunks:", *save_weight_chunks(load_translation_model(model_dir)[0], self.chunks), flush=True)


def train_arrays(config: TranslationConfig, corpora_file, buckets=DEFAULT_BUCKETS, minutes=None, chunks=None) -> Path:
    """Trains (or resumes) `config`'s experiment from an exported corpus file; returns the best model's folder."""
    print(f"backend: {keras.backend.backend()}", flush=True)
    return train(ArrayTranslationTask(corpora_file, buckets, minutes, chunks), config)


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


def import_arrays(config: TranslationConfig, weights_dir: Path, vocab_dir: Path, output: Path) -> Path:
    """The `import` step: a model directory from `train`'s weight chunks and `--vocab`'s SentencePiece models."""
    from seq2seq.core.subwords import SubwordVocabulary
    from seq2seq.model_dirs import save_translation_model
    from seq2seq.models.encoder_decoder import build_model

    source, target = SubwordVocabulary.load_pair(vocab_dir)
    model = build_model(config.model, len(source), len(target))
    model.build()
    load_weight_chunks(model, weights_dir)
    return save_translation_model(output, model, source, target, experiment_config=config, storage_dtype="float16")
