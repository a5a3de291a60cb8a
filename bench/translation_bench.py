"""Benchmark translation: training throughput and decoding speed on Multi30k.

Usage (from the repository root, nothing else running):
    python bench/translation_bench.py --config configs/multi30k_de_en_gru_bahdanau.yaml --model DIR

Prints:
  - training throughput in target tokens/s: the median of timed steps on real
    Multi30k batches of the config (tf.data autotune off; the first steps of
    each bucket shape, which trace the graph, are not timed);
  - translation speed on the test set in sentences/s, greedy and beam 5
    (after a warm-up pass that compiles every shape);
  - peak resident memory.
`--model` is a trained model directory (for realistic output lengths); without
it a freshly initialised model of the config is used for the training figure
only.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from seq2seq import config as config_lib  # noqa: E402
from seq2seq.model_dirs import load_translation_model  # noqa: E402
from seq2seq.textio import read_lines  # noqa: E402
from seq2seq.training import configure_precision  # noqa: E402
from seq2seq.translation.config import TranslationConfig  # noqa: E402
from seq2seq.translation.training import batches, build_model, build_vocabularies, compile_model  # noqa: E402
from seq2seq.translation.translator import Translator  # noqa: E402


def timed_fit(model, data) -> list[tuple[float, float]]:
    """One epoch of `model.fit` over `data`; per step, (seconds from batch begin to end, cumulative target tokens)."""
    records: list[tuple[float, float]] = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            records.append((time.perf_counter() - self.started, float(logs["target_tokens"])))

    model.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[StepTimer()])
    return records


def training_speed(config: TranslationConfig, source, target, steps: int) -> tuple[float, int]:
    configure_precision(config.training.mixed_precision)
    model = build_model(config, len(source), len(target))
    model.build()
    compile_model(model, config)
    options = tf.data.Options()
    options.autotune.enabled = False
    data = batches(config, "train", source, target, report=False).with_options(options).take(steps).cache()
    list(data)  # fill the cache: input preparation is not timed
    seen_shapes: set = set()
    times = timed_fit(model, data)
    shapes = [tuple(b[1].shape) for b in data]
    per_step = []
    previous_tokens = 0.0
    for (seconds, cumulative), shape in zip(times, shapes):
        tokens, previous_tokens = cumulative - previous_tokens, cumulative
        if shape[1] in seen_shapes:  # skip each bucket's first (tracing) step
            per_step.append((seconds, tokens))
        seen_shapes.add(shape[1])
    configure_precision(False)
    total_seconds = sum(s for s, _ in per_step)
    return sum(t for _, t in per_step) / total_seconds, len(per_step)


def translation_speed(model_dir: str, lines: list[str], beam: int) -> float:
    translator = Translator(*load_translation_model(model_dir), beam_size=beam)
    translator.translate(lines)  # compile every shape
    started = time.perf_counter()
    translator.translate(lines)
    return len(lines) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/multi30k_de_en_gru_bahdanau.yaml")
    parser.add_argument("--model", help="trained model directory (for translation speed)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--vocab-dir", default="/tmp/bench_vocab", help="where to train/keep SentencePiece models")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    arguments = parser.parse_args()
    config = config_lib.load(TranslationConfig, arguments.config, arguments.overrides)
    print(f"host: {os.cpu_count()} CPUs; tensorflow {tf.__version__}, keras {keras.__version__}")
    if arguments.model:
        _, source, target = load_translation_model(arguments.model)
    else:
        from pathlib import Path

        source, target = build_vocabularies(config, Path(arguments.vocab_dir))
    speed, timed = training_speed(config, source, target, arguments.steps)
    print(f"training: {speed:,.0f} target tokens/s ({timed} timed steps, max_tokens "
          f"{config.training.max_tokens}, mixed_precision={config.training.mixed_precision})")
    if arguments.model:
        files = config.data.files(config.data.test_prefix)
        lines = read_lines(files[0])
        for beam in (1, 5):
            print(f"translate {files[0].name}: {translation_speed(arguments.model, lines, beam):,.1f} "
                  f"sentences/s ({'greedy' if beam == 1 else f'beam {beam}'}, {len(lines)} sentences)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
