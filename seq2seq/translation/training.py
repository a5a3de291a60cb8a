"""Training a translation model: vocabularies, batched pipelines, fit with callbacks, export."""

from __future__ import annotations

import tempfile
from pathlib import Path

from seq2seq import config as config_lib
from seq2seq.callbacks import EpochNumber, KeepBest, Throughput, ValidationScore
from seq2seq.core.subwords import SubwordVocabulary
from seq2seq.errors import UserError
from seq2seq.model_dirs import load_translation_model, save_translation_model
from seq2seq.models.encoder_decoder import Seq2SeqModel, build_model
from seq2seq.runner import Task, TaskData, train
from seq2seq.training import configure_precision, restored_dtype_policy
from seq2seq.translation.config import TranslationConfig
from seq2seq.weight_layouts import LAYOUT, upgrade_weights_file, weights_layout


def validation_bleu_callback(
    model: Seq2SeqModel,
    config: TranslationConfig,
    source: SubwordVocabulary,
    target: SubwordVocabulary,
    run_dir: Path | None,
    keep_best: KeepBest | None,
    sets: list[tuple[str, list[str], list[str]]] | None = None,
) -> ValidationScore:
    """Greedy validation BLEU of the model being trained (see :class:`ValidationScore`).

    `sets`: `(name, sources, references)` of each validation set; by
    default the corpora of `data.valid`. Logged in `run_dir` if given
    (TensorBoard too, where TensorFlow is installed).
    """
    from seq2seq.core.decoding import DecodingOptions
    from seq2seq.training import tensorflow_installed
    from seq2seq.translation.translator import Translator

    if sets is None:
        from seq2seq.translation.data import corpus_text_pairs

        sets = [
            (name, [s for s, _ in pairs], [t for _, t in pairs]) for name, pairs in corpus_text_pairs(config, "valid")
        ]
    translator = Translator(model, source, target, DecodingOptions(beam_size=1))

    def translate(lines: list[str]) -> list[str]:
        return [hypotheses[0].text for hypotheses in translator.translate(lines, batch_size=128)]

    return ValidationScore(
        translate,
        sets,
        every_steps=config.training.bleu_every_steps,
        samples=config.training.bleu_samples,
        log_file=run_dir and run_dir / "validation_bleu.jsonl",
        keep_best=keep_best,
        tensorboard_dir=run_dir and tensorflow_installed() and run_dir / "tensorboard",
        print_fn=lambda text: print(text, flush=True),
    )


class TranslationTask(Task):
    """Translation: subword vocabularies, token batches by length, validation BLEU, several devices."""

    name = "translation"
    sections = ("data", "vocabulary", "model")
    distributed = True

    def check(self, config: TranslationConfig) -> None:
        if config.model.encoder.input != "tokens":
            raise UserError(
                f"model.encoder.input={config.model.encoder.input!r}: translation reads tokens; audio and "
                "image models train with `seq2seq perception train CONFIG` (see configs/speech_digits.yaml)."
            )

    def prepare(self, config: TranslationConfig, run_dir: Path, chief: bool) -> TaskData:
        import tensorflow as tf

        from seq2seq.translation.data import batches, build_vocabularies

        if not chief and not ((run_dir / "source.spm").is_file() and (run_dir / "target.spm").is_file()):
            raise UserError(
                f"{run_dir}: the workers of a multi_worker run read the chief's vocabularies; run "
                "`seq2seq build-vocab CONFIG` once before starting them."
            )
        source, target = build_vocabularies(config, run_dir)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False)  # the pipeline's epoch number (EpochNumber)
        train = batches(config, "train", source, target, epoch=epoch)
        valid = batches(config, "valid", source, target)
        if valid is None:
            raise UserError(
                "training needs validation data: list at least one corpus under data.valid, "
                "e.g. data.valid: [{prefix: multi30k/val}]."
            )
        return TaskData(train, valid, (source, target), epoch)

    def cores(self, config: TranslationConfig) -> dict:
        return {"model.encoder": config.model.encoder}

    def build(self, config: TranslationConfig, data: TaskData) -> Seq2SeqModel:
        source, target = data.vocabularies
        model = build_model(config.model, len(source), len(target))
        model.build()
        return model

    def load(self, directory: str) -> tuple:
        return load_translation_model(directory)

    def selection(self, config: TranslationConfig) -> tuple[str, str]:
        return ("val_bleu", "max") if config.training.select_by == "bleu" else ("val_loss", "min")

    def measurements(self, model, config, data: TaskData, run_dir: Path, keep_best, chief: bool) -> list:
        measurements = [EpochNumber(data.epoch), Throughput()]
        if config.training.validation_bleu:  # mid-epoch scores are offered to keep_best only when it keeps by BLEU
            offered = keep_best if self.selection(config)[0] == "val_bleu" else None
            measurements.append(
                validation_bleu_callback(
                    model, config, *data.vocabularies, run_dir if chief else None, offered, data.extra.get("valid_sets")
                )
            )
        return measurements

    def export(self, model_dir: Path, model, config, data: TaskData, epoch: int, logs: dict) -> None:
        metrics = {"epoch": epoch + 1}
        for key, name in (
            ("val_loss", "valid_loss"),
            ("val_perplexity", "valid_perplexity"),
            ("val_bleu", "valid_bleu"),
        ):
            if key in logs:
                metrics[name] = float(logs[key])
        save_translation_model(model_dir, model, *data.vocabularies, config, metrics)


def train_translation_model(config: TranslationConfig) -> Path:
    """Trains (or resumes) the experiment in `config.run_dir`; returns the best model's directory."""
    return train(TranslationTask(), config)


def average_checkpoints(
    run_dir: str | Path, last: int, output: str | Path, storage_dtype: str = "float32"
) -> list[Path]:
    """Writes a model directory whose weights are the mean of the run's last `last` epoch checkpoints.

    The checkpoints are `run_dir/checkpoints/epoch-NNN.weights.h5` (see
    `training.keep_checkpoints`); the architecture and vocabularies come from
    `run_dir/config.yaml`, `source.spm` and `target.spm`; `storage_dtype`
    as in `save_translation_model`. Returns the averaged files.
    """
    from seq2seq.callbacks import epoch_checkpoints
    from seq2seq.translation.config import TranslationConfig

    run_dir = Path(run_dir)
    for name in ("config.yaml", "source.spm", "target.spm"):
        if not (run_dir / name).is_file():
            raise UserError(f"{run_dir}: not a translation run folder ({name} is missing).")
    files = epoch_checkpoints(run_dir / "checkpoints")
    if len(files) < last:
        raise UserError(
            f"{run_dir / 'checkpoints'}: {len(files)} epoch checkpoints, fewer than --last {last} "
            "(training.keep_checkpoints sets how many a run keeps)."
        )
    files = files[-last:]
    config = config_lib.load(TranslationConfig, run_dir / "config.yaml")
    source, target = SubwordVocabulary.load_pair(run_dir)
    with restored_dtype_policy():
        configure_precision(config.training.mixed_precision)
        model = build_model(config.model, len(source), len(target))
        model.build()
        total = None
        for path in files:
            try:
                if weights_layout(path) < LAYOUT:  # a checkpoint of version 0.1
                    with tempfile.TemporaryDirectory() as folder:
                        model.load_weights(str(upgrade_weights_file(path, Path(folder), config.model.tie_embeddings)))
                else:
                    model.load_weights(str(path))
            except OSError as error:  # truncated or not HDF5
                raise UserError(
                    f"{path}: not a readable weights file ({error}); remove it and average fewer checkpoints."
                ) from None
            except ValueError as error:
                raise UserError(
                    f"{path}: does not fit the architecture in {run_dir / 'config.yaml'} "
                    f"({str(error).splitlines()[0]})."
                ) from None
            weights = model.get_weights()
            total = weights if total is None else [sum_ + weight for sum_, weight in zip(total, weights)]
        model.set_weights([sum_ / len(files) for sum_ in total])
        save_translation_model(
            output,
            model,
            source,
            target,
            config,
            {"averaged_checkpoints": [path.name for path in files]},
            storage_dtype,
        )
    return files
