"""Fine-tuning: a trained translation model continued on the user's parallel files, with its own vocabulary.

`seq2seq finetune --model NAME --train PREFIX [--valid PREFIX ...] -o DIR`
trains the experiment that :func:`finetuning_config` makes from the model's
own `config.yaml` (its architecture, vocabulary and training options) and
runs it with :func:`seq2seq.runner.train`, as `seq2seq train` would:

- the training data is the user's corpus (`PREFIX.SRC[.gz]` and
  `PREFIX.TGT[.gz]`, the languages of the model), and, with `mix` above 0,
  the corpora the model was trained on (when their files are there) with
  that share of the sampled pairs, in their original proportions (against
  forgetting the general domain);
- validation is on the `--valid` corpora (default: the model's own
  validation sets, when their files are there);
- the weights start from the model (`training.init_from`), the run folder
  gets the model's SentencePiece files, and the learning rate, epochs and
  epoch length are the fine-tuning ones;
- the best epoch's model (by the mean validation BLEU) is copied to the
  output directory, with the model's lexical shortlist (same vocabulary).

Running the same command again resumes the run.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from seq2seq import config as config_lib
from seq2seq.errors import UserError
from seq2seq.translation.config import CorpusConfig, TranslationConfig

DEFAULT_LEARNING_RATE = 0.0002
DEFAULT_EPOCHS = 3
DEFAULT_STEPS = 200


def _corpus_files_exist(directory: str, corpus: CorpusConfig, languages: tuple[str, str]) -> bool:
    if corpus.prefix is None:
        return True  # a tensorflow-datasets corpus: tfds reports a missing dataset itself
    base = Path(directory) / corpus.prefix
    return all(any(Path(f"{base}.{language}{suffix}").is_file() for suffix in ("", ".gz")) for language in languages)


def finetuning_config(
    model_dir: Path,
    train: list[str],
    valid: list[str],
    mix: float,
    run_dir: Path,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    epochs: int = DEFAULT_EPOCHS,
    steps_per_epoch: int = DEFAULT_STEPS,
    overrides: list[str] = (),
) -> tuple[TranslationConfig, list[str]]:
    """`(config, notes)`: the fine-tuning experiment (see the module doc) and what the user should know about it."""
    from seq2seq.model_dirs import saved_config

    base = saved_config(model_dir, TranslationConfig)
    if base is None:
        raise UserError(f"{model_dir}: has no config.yaml; fine-tuning needs the model's architecture and data.")
    data = base.data
    languages = (data.source_language, data.target_language)
    notes = []
    own = []
    for prefix in train:
        corpus = CorpusConfig(prefix=str(Path(prefix).resolve()), name=f"own_{Path(prefix).name}")
        if not _corpus_files_exist(data.dir, corpus, languages):
            raise UserError(
                f"--train {prefix}: expected {prefix}.{languages[0]} and {prefix}.{languages[1]} (plain or .gz)."
            )
        own.append(corpus)
    original = [corpus for corpus in data.train if _corpus_files_exist(data.dir, corpus, languages)]
    if mix > 0 and len(original) < len(data.train):
        notes.append(
            f"--mix {mix}: {len(data.train) - len(original)} of the model's {len(data.train)} training corpora "
            f"are not under {data.dir}; mixing in the others"
        )
    if mix > 0 and not original:
        notes[-1] = f"--mix {mix}: the model's training corpora are not under {data.dir}; no mixing"
    mixing = mix if original else 0.0
    total = sum(corpus.weight for corpus in original) or 1.0
    weighted = [dataclasses.replace(corpus, weight=(1 - mixing) / len(own)) for corpus in own]
    if mixing > 0:
        weighted += [dataclasses.replace(corpus, weight=mixing * corpus.weight / total) for corpus in original]
    if valid:
        validation = []
        for prefix in valid:
            corpus = CorpusConfig(prefix=str(Path(prefix).resolve()), name=f"own_{Path(prefix).name}")
            if not _corpus_files_exist(data.dir, corpus, languages):
                raise UserError(f"--valid {prefix}: expected {prefix}.{languages[0]} and {prefix}.{languages[1]}.")
            validation.append(corpus)
    else:
        validation = [corpus for corpus in data.valid if _corpus_files_exist(data.dir, corpus, languages)]
        if not validation:
            raise UserError(f"the model's validation sets are not under {data.dir}; pass --valid PREFIX.")
    raw = config_lib.to_dict(base)
    raw["data"]["train"] = [config_lib.to_dict(corpus) for corpus in weighted]
    raw["data"]["valid"] = [config_lib.to_dict(corpus) for corpus in validation]
    raw["data"]["test"] = []
    raw["training"].update(
        init_from=str(model_dir),
        learning_rate=learning_rate,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        early_stopping_patience=epochs,
    )
    raw["run_dir"] = str(run_dir)
    raw = config_lib.apply_overrides(raw, list(overrides))
    return config_lib.from_dict(TranslationConfig, raw, source="the fine-tuning config"), notes


def finetune(config: TranslationConfig, model_dir: Path, output: Path) -> Path:
    """Trains (or resumes) `config` in its run folder and copies the best model to `output`."""
    from seq2seq.outputs import atomic_directory
    from seq2seq.translation.training import train_translation_model

    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in ("source.spm", "target.spm"):  # the model's vocabulary, not a new one
        if not (run_dir / name).exists():
            shutil.copyfile(model_dir / name, run_dir / name)
    best = train_translation_model(config)
    with atomic_directory(output) as staging:
        for path in best.iterdir():
            if path.is_file():
                shutil.copy2(path, staging / path.name)
        if (model_dir / "shortlist.npz").is_file():
            shutil.copy2(model_dir / "shortlist.npz", staging / "shortlist.npz")
    return output
