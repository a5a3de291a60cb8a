"""The seq2seq side of bench/joey_compare.py: config overrides, versions, batches and workers.

  - `our_overrides`: the `--set` overrides that pin our config to the matched
    architecture and training settings;
  - `our_versions`: Python, package and git versions for the report;
  - `sentence_batches`: training batches of exactly 64 sentences in the
    config's length buckets (this bench only);
  - `ours_train_worker`, `ours_decode_worker`: the phases joey_compare.py runs
    in fresh subprocesses (`--worker ours-train` / `ours-decode`), with the
    timing of bench/translation_bench.py.
Standard library only at import time (TensorFlow is imported by the workers):
joey_compare.py, which the Joey NMT workers also run, imports this module.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from pathlib import Path

from common import REPO, throughput
from compare_setup import ARCH, data_overrides, decoding_figures


def our_overrides(data: dict, mixed_precision: bool) -> list[str]:
    """`--set` overrides that pin our config to the matched architecture and training settings."""
    a = ARCH
    return data_overrides(data) + [
        f"data.max_source_length={a['max_length']}",
        f"data.max_target_length={a['max_length']}",
        f"model.embedding_dim={a['embedding_dim']}",
        "model.encoder.cell=gru",
        f"model.encoder.units={a['encoder_units']}",
        "model.encoder.num_layers=1",
        "model.encoder.bidirectional=true",
        "model.decoder.cell=gru",
        f"model.decoder.units={a['decoder_units']}",
        "model.decoder.num_layers=1",
        "model.attention=bahdanau",
        f"model.attention_units={a['attention_units']}",
        f"model.dropout={a['dropout']}",
        "model.tie_embeddings=false",
        "training.optimizer=adam",
        f"training.learning_rate={a['learning_rate']}",
        f"training.clip_norm={a['clip_norm']}",
        f"training.label_smoothing={a['label_smoothing']}",
        f"training.mixed_precision={'bfloat16' if mixed_precision else 'float32'}",
        "training.ema_momentum=null",
        f"training.seed={a['seed']}",
        "training.steps_per_epoch=null",
    ]


def our_versions() -> dict:
    import importlib.metadata as metadata

    versions = {"python": platform.python_version()}
    for package in ("seq2seq-rnn", "tensorflow", "keras", "tensorflow-text", "sentencepiece"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    versions["git"] = commit.stdout.strip() or "unknown"
    return versions


def sentence_batches(config, source, target, batch_size: int):
    """Training batches of exactly `batch_size` sentences in the config's length buckets (bench only).

    The toolkit's own pipeline (`seq2seq.translation.data.batches`) sizes each
    bucket's batch by a token budget; here every bucket holds `batch_size`
    pairs, padded to the bucket boundary like the toolkit does, so a compiled
    model still sees one shape per bucket.
    """
    import tensorflow as tf

    from pipelines import translation as pipes
    from seq2seq.translation.data import string_pairs

    training = config.training
    boundaries = list(training.bucket_boundaries)
    max_source = min(config.data.max_source_length, boundaries[-1] - 1)
    max_target = min(config.data.max_target_length, boundaries[-1] - 1)
    examples = (
        string_pairs(config, "train")
        .apply(pipes.tokenize_pairs(source.model_proto, target.model_proto))
        .apply(pipes.to_model_inputs(target.bos_id, target.eos_id))
        .apply(pipes.filter_by_length(max_source, max_target))
        .shuffle(training.shuffle_buffer or 30000, seed=training.seed)
        .repeat()
    )  # --steps may exceed one epoch (Joey moves on to the next epoch too)

    def length(inputs, targets):
        return tf.maximum(tf.size(inputs["source_ids"]), tf.size(targets))

    return examples.bucket_by_sequence_length(
        length,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        pad_to_bucket_boundary=True,
        drop_remainder=False,
    )


def _tensorflow(threads: int):
    """TensorFlow with `threads` intra-op threads (set before anything runs), quiet."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    return tf


def ours_train_worker(job: dict) -> dict:
    """Trains our model for job["steps"] steps on 64-sentence batches, timing each step; exports it."""
    tf = _tensorflow(job["threads"])
    import keras
    import translation_bench

    from seq2seq import config as config_lib
    from seq2seq.core.subwords import SubwordVocabulary
    from seq2seq.model_dirs import save_translation_model
    from seq2seq.translation.config import TranslationConfig

    config = config_lib.load(TranslationConfig, job["config"], job["overrides"])
    vocab = SubwordVocabulary.load(job["spm"])
    keras.utils.set_random_seed(config.training.seed)
    model, steps = translation_bench.timed_training(
        config, sentence_batches(config, vocab, vocab, job["batch_sentences"]), vocab, vocab, job["steps"]
    )
    save_translation_model(job["export_dir"], model, vocab, vocab, config)
    return {
        **throughput(steps),
        "parameters": int(model.count_params()),
        "threads": f"TensorFlow intra-op {tf.config.threading.get_intra_op_parallelism_threads()}, "
        f"inter-op default ({tf.config.threading.get_inter_op_parallelism_threads()} = auto)",
        "mixed_precision": config.training.mixed_precision,
    }


def ours_decode_worker(job: dict) -> dict:
    """Decoding speed of our model directory (bench/translation_bench.py's `translation_speed`)."""
    _tensorflow(job["threads"])
    import translation_bench

    from seq2seq.core.decoding import DecodingOptions
    from seq2seq.model_dirs import load_translation_model
    from seq2seq.translation.translator import Translator

    lines = Path(job["source"]).read_text(encoding="utf-8").splitlines()
    speeds = {str(beam): translation_bench.translation_speed(job["model_dir"], lines, beam) for beam in job["beams"]}
    # Output lengths, from a separate untimed greedy pass (translation_speed returns only the speed).
    hypotheses = Translator(*load_translation_model(job["model_dir"]), DecodingOptions(beam_size=1)).translate(lines)
    words = statistics.mean(len(h[0].text.split()) for h in hypotheses)
    return decoding_figures(speeds, words, len(lines))
