"""Model directories: what a trained model is on disk, and safe loading of one.

A translation-model directory holds `model.keras`, `source.spm` and
`target.spm` (SentencePiece models), `manifest.json`, and usually
`config.yaml` and `metrics.json`. A language-model directory holds:

- `model.keras`: the Keras model (architecture and weights; loaded with
  `safe_mode=True`, so loading runs no code from the file);
- `vocab.json`: the vocabulary;
- `config.yaml`: the experiment config it was trained with;
- `metrics.json`: validation (and test) figures, when training wrote them;
- `README.md`: the model card, for shipped models.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import keras

from seq2seq import config as config_lib
from seq2seq.catalog import resolve
from seq2seq.compat import serialized_objects_held
from seq2seq.core.subwords import SubwordVocabulary
from seq2seq.core.vocabulary import TokenVocabulary, Vocabulary
from seq2seq.documents import json_text
from seq2seq.errors import UserError
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.models.ensemble import Ensemble, members_of
from seq2seq.models.language_model import RNNLanguageModel
from seq2seq.outputs import atomic_directory, atomic_write, check_replaceable
from seq2seq.weight_layouts import LAYOUT, float32_copy, stored_in_float16, upgrade_layout_1

LM_KIND = "seq2seq-language-model/1"
LM_FILES = ("model.keras", "manifest.json")  # and vocab.json (word, char) or vocab.spm (subword)
TRANSLATION_KIND = "seq2seq-translation/1"
PERCEPTION_KIND = "seq2seq-perception/1"  # speech recognition and image captioning
TRANSLATION_FILES = ("model.keras", "source.spm", "target.spm", "manifest.json")


STORAGE_DTYPES = ("float32", "float16")


def copy_model(
    model: keras.Model, dtype: str = "float32", stateful: bool = False, input_shape: tuple = (None, None)
) -> keras.Model:
    """The same weights in a rebuilt model: `dtype` weights, `stateful` or not, built for `input_shape`.

    A stateful copy needs a fixed batch size in `input_shape`.
    """
    config = model.get_config()
    if "stateful" in config:
        config["stateful"] = stateful
    config.pop("dtype", None)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        copy = type(model).from_config(config)
        copy.build(input_shape)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def inference_copy(model: keras.Model, dtype: str = "float32") -> keras.Model:
    """A non-stateful copy of a (possibly stateful, mixed-precision) model with `dtype` weights.

    `float32` is for running; `float16` halves a saved file (see
    `save_translation_model`'s `storage_dtype`).
    """
    return copy_model(model, dtype)


def _write_directory(
    directory: Path,
    kind: str,
    model: keras.Model,
    files: dict[str, object],
    experiment_config=None,
    metrics: dict | None = None,
    storage_dtype: str = "float32",
) -> Path:
    """Writes a model directory atomically (complete or not at all).

    `files` maps file names to objects with a `save(path)` method.
    """
    if storage_dtype not in STORAGE_DTYPES:
        raise ValueError(f"`storage_dtype` must be one of {STORAGE_DTYPES}. Received: {storage_dtype!r}")
    directory = Path(directory)
    with atomic_directory(directory) as temporary:
        with serialized_objects_held():
            inference_copy(model, storage_dtype).save(temporary / "model.keras")
        for name, item in files.items():
            item.save(temporary / name)
        if experiment_config is not None:
            config_lib.save(experiment_config, temporary / "config.yaml")
        if metrics is not None:
            with atomic_write(temporary / "metrics.json") as handle:
                handle.write(json_text(metrics, indent=2))
        card = directory / "README.md"
        if card.exists():
            shutil.copy2(card, temporary / "README.md")
        with atomic_write(temporary / "manifest.json") as handle:
            json.dump(
                {"kind": kind, "layout": LAYOUT, "keras": keras.__version__, "storage_dtype": storage_dtype}, handle
            )
    return directory


def vocabulary_file_name(level: str) -> str:
    """`vocab.spm` for SentencePiece vocabularies, `vocab.json` for word and character ones."""
    return "vocab.spm" if level == "subword" else "vocab.json"


def load_vocabulary(path: Path) -> TokenVocabulary:
    """A language model's vocabulary file, by its name."""
    return SubwordVocabulary.load(path) if path.suffix == ".spm" else Vocabulary.load(path)


def save_language_model(
    directory: str | Path, model: keras.Model, vocab, experiment_config=None, metrics: dict | None = None
) -> Path:
    """Writes a language-model directory atomically."""
    return _write_directory(
        Path(directory), LM_KIND, model, {vocabulary_file_name(vocab.level): vocab}, experiment_config, metrics
    )


def save_translation_model(
    directory: str | Path,
    model: keras.Model,
    source_vocab,
    target_vocab,
    experiment_config=None,
    metrics: dict | None = None,
    storage_dtype: str = "float32",
) -> Path:
    """Writes a translation-model directory atomically.

    `storage_dtype="float16"` stores the weights at half size (for shipping);
    loading converts them back to float32, so the model computes in float32
    with weights rounded to float16 (about 3 significant digits).
    """
    return _write_directory(
        Path(directory),
        TRANSLATION_KIND,
        model,
        {"source.spm": source_vocab, "target.spm": target_vocab},
        experiment_config,
        metrics,
        storage_dtype,
    )


def saved_config(directory: str | Path, cls):
    """The experiment config saved in a model directory as `cls`, or None when it has no `config.yaml`.

    The toolkit writes every section, so a file missing one (empty or
    truncated) is an error naming it, not a config of defaults.
    """
    import dataclasses

    path = Path(directory) / "config.yaml"
    if not path.is_file():
        return None
    config = config_lib.load(cls, path)  # invalid YAML, unknown keys, bad values: errors naming the file
    raw = config_lib.parse_yaml(path.read_text(encoding="utf-8")) or {}
    missing = [field.name for field in dataclasses.fields(cls) if field.name not in raw]
    if missing:
        raise UserError(
            f"{path}: incomplete, without {', '.join(missing)} (a damaged copy?); copy the whole model directory again."
        )
    return config


def check_new_model_directory(directory: str | Path, overwrite: bool) -> None:
    """Before any work: `directory` is new, or with `overwrite` a model directory (manifest.json and model.keras)."""
    if Path(directory).exists() and not overwrite:
        raise UserError(f"{directory}: exists; pass --overwrite to replace it.")
    check_replaceable(
        directory,
        lambda path: all((path / name).is_file() for name in ("manifest.json", "model.keras")),
        "model directory",
    )


def check_model_directory(directory: str | Path, kind: str, files: tuple[str, ...]) -> Path:
    """The model directory `directory` (a path or an installed model's name) if it is complete and of `kind`.

    Raises `UserError` naming what is wrong (its manifest is read first).
    """
    directory = resolve(directory)  # a path, or the name of an installed model (seq2seq.catalog)
    if not (directory / "manifest.json").is_file():
        raise UserError(
            f"{directory}: incomplete model directory, missing manifest.json. Train or copy the whole directory again."
        )
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{directory}/manifest.json: not valid JSON; the directory is damaged.") from None
    if not isinstance(manifest, dict):
        raise UserError(f'{directory}/manifest.json: expected a JSON object with a "kind"; the directory is damaged.')
    if manifest.get("kind") != kind:
        raise UserError(f"{directory}: holds a {manifest.get('kind')!r} model, expected {kind!r}.")
    missing = [name for name in files if not (directory / name).is_file()]
    if missing:
        raise UserError(
            f"{directory}: incomplete model directory, missing {', '.join(missing)}. "
            "Train or copy the whole directory again."
        )
    return directory


def model_layout(directory: Path) -> int:
    """The weight layout of a checked model directory (1 when its manifest predates layouts)."""
    layout = json.loads((directory / "manifest.json").read_text(encoding="utf-8")).get("layout", 1)
    if layout not in (1, LAYOUT):
        raise UserError(
            f"{directory}/manifest.json: weight layout {layout!r} is not one this version reads "
            f"(1 or {LAYOUT}); a newer seq2seq wrote it."
        )
    return layout


def _load_keras_model(path: Path, layout: int = LAYOUT) -> keras.Model:
    """The Keras model in `path`, float32 (RNNLanguageModel and Seq2SeqModel are registered by this module's imports).

    A model stored in float16 is loaded into float32 layers (the weights rounded to float16).
    """
    try:
        with serialized_objects_held(), contextlib.ExitStack() as stack:
            readable = path
            if layout < LAYOUT:
                readable = upgrade_layout_1(path, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            if stored_in_float16(readable):
                readable = float32_copy(readable, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            model = keras.saving.load_model(readable, compile=False, safe_mode=True)
    except Exception as error:  # a damaged zip, a foreign format, a newer Keras
        raise UserError(
            f"{path}: cannot load the model ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})."
        ) from None
    if model.dtype_policy.name != "float32":  # a mixed-precision model saved by an older version
        model = inference_copy(model)
    return model


def _check_outputs(directory: Path, outputs: int, vocabulary: int, what: str) -> None:
    if outputs != vocabulary:
        raise UserError(
            f"{directory}: the model has {outputs} {what} but vocab.json has {vocabulary}; "
            "the files come from different models."
        )


def load_language_model(directory: str | Path) -> tuple[RNNLanguageModel, TokenVocabulary]:
    """Loads `(model, vocab)` from a language-model directory (safe mode, not compiled)."""
    directory = check_model_directory(directory, LM_KIND, LM_FILES)
    names = [name for name in ("vocab.json", "vocab.spm") if (directory / name).is_file()]
    if not names:
        raise UserError(
            f"{directory}: incomplete model directory, missing vocab.json (or vocab.spm). "
            "Train or copy the whole directory again."
        )
    vocab = load_vocabulary(directory / names[0])
    model = _load_keras_model(directory / "model.keras", model_layout(directory))
    if not isinstance(model, RNNLanguageModel):
        raise UserError(f"{directory}/model.keras: holds a {type(model).__name__}, expected a language model.")
    _check_outputs(directory, model.vocab_size, len(vocab), "output tokens")
    return model, vocab


def load_translation_model(directory: str | Path) -> tuple[Seq2SeqModel, SubwordVocabulary, SubwordVocabulary]:
    """Loads `(model, source_vocab, target_vocab)` from a translation-model directory (one model or an
    :class:`~seq2seq.models.ensemble.Ensemble` of them, as `seq2seq ensemble` writes)."""
    directory = check_model_directory(directory, TRANSLATION_KIND, TRANSLATION_FILES)
    source, target = SubwordVocabulary.load_pair(directory)
    model = _load_keras_model(directory / "model.keras", model_layout(directory))
    if not all(isinstance(member, Seq2SeqModel) for member in members_of(model)) or model.source["input"] != "tokens":
        raise UserError(f"{directory}/model.keras: holds a {type(model).__name__}, expected a translation model.")
    if (model.source_vocab_size, model.target_vocab_size) != (len(source), len(target)):
        raise UserError(
            f"{directory}: the model has {model.source_vocab_size} source and {model.target_vocab_size} "
            f"target tokens but source.spm and target.spm have {len(source)} and {len(target)}; "
            "the files come from different models."
        )
    return model, source, target


def save_perception_model(
    directory: str | Path, model: keras.Model, vocab, experiment_config=None, metrics: dict | None = None
) -> Path:
    """Writes a speech-recognition or captioning model directory atomically (model, vocab.json, config, metrics)."""
    return _write_directory(Path(directory), PERCEPTION_KIND, model, {"vocab.json": vocab}, experiment_config, metrics)


def load_perception_model(directory: str | Path) -> tuple[Seq2SeqModel | Ensemble, Vocabulary]:
    """Loads `(model, vocab)` from a perception-model directory (safe mode, not compiled): one model or an ensemble."""
    directory = check_model_directory(directory, PERCEPTION_KIND, ("model.keras", "vocab.json"))
    vocab = Vocabulary.load(directory / "vocab.json")
    model = _load_keras_model(directory / "model.keras")
    if not all(isinstance(member, Seq2SeqModel) for member in members_of(model)) or model.source["input"] == "tokens":
        raise UserError(f"{directory}/model.keras: holds a {type(model).__name__} that reads no audio or images.")
    _check_outputs(directory, model.target_vocab_size, len(vocab), "output words")
    return model, vocab
