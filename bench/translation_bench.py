"""Benchmark translation: training throughput and decoding speed on Multi30k.

Usage (from the repository root, nothing else running):
    python bench/translation_bench.py --config configs/multi30k_de_en_gru_bahdanau.yaml --model DIR
    python bench/translation_bench.py --precisions float32,bfloat16,auto   # precisions side by side

Prints:
  - training throughput in target tokens/s (per `--precisions` value): the target tokens of the timed
    steps over their summed time, on real Multi30k batches of the config
    (cached beforehand, tf.data autotune off; the first step of each bucket
    shape, which traces the graph, is not timed);
  - translation speed on the test set in sentences/s, greedy and beam 5
    (after a warm-up pass that compiles every shape);
  - peak resident memory.
`--model` is a trained model directory (for realistic output lengths); without
it a freshly initialised model of the config is used for the training figure
only.

`timed_training` and `translation_speed` are also used by the seq2seq workers
of bench/joey_compare.py (bench/ours_side.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from common import fail, host_line, peak_rss_mib, throughput, timed_fit, token_steps, without_autotune  # noqa: E402

from seq2seq import config as config_lib  # noqa: E402
from seq2seq.core.decoding import DecodingOptions
from seq2seq.model_dirs import load_translation_model  # noqa: E402
from seq2seq.models.encoder_decoder import build_model  # noqa: E402
from seq2seq.textio import read_lines  # noqa: E402
from seq2seq.training import (  # noqa: E402
    POLICIES,
    compile_model,  # noqa: E402
    configure_precision,
    resolve_precision,
)
from seq2seq.translation.config import TranslationConfig  # noqa: E402
from seq2seq.translation.data import batches, build_vocabularies  # noqa: E402
from seq2seq.translation.translator import Translator  # noqa: E402


def timed_training(config: TranslationConfig, dataset, source, target, steps: int):
    """Trains a fresh model of `config` on the first `steps` batches of `dataset`, timing each step.

    The batches are cached beforehand (tf.data autotune off), so input
    preparation is not timed; mixed precision as configured, float32 again
    afterwards. Returns the model and the steps (`common.token_steps`: each
    bucket shape's first, graph-tracing step is marked untimed).
    """
    configure_precision(config.training.mixed_precision)
    model = build_model(config.model, len(source), len(target))
    model.build()
    compile_model(model, config)
    data = without_autotune(dataset).take(steps).cache()
    shapes = [tuple(batch[1].shape) for batch in data]  # fills the cache: input preparation is not timed
    records = token_steps(timed_fit(model, data, "target_tokens"), shapes)
    configure_precision("float32")
    return model, records


def training_speed(config: TranslationConfig, source, target, steps: int) -> tuple[float, int]:
    """Target tokens/s over the timed steps of the config's own training batches, and their number."""
    _, records = timed_training(config, batches(config, "train", source, target, report=False), source, target, steps)
    figures = throughput(records)
    return figures["steady_tokens_per_s"], figures["timed_steps"]


def translation_speed(model_dir: str, lines: list[str], beam: int) -> float:
    translator = Translator(*load_translation_model(model_dir), DecodingOptions(beam_size=beam))
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
    parser.add_argument(
        "--precisions",
        default=None,
        help="comma-separated training.mixed_precision values measured side by side, e.g. "
        "float32,bfloat16,auto (default: the config's)",
    )
    arguments = parser.parse_args()
    config = config_lib.load(TranslationConfig, arguments.config, arguments.overrides)
    print(host_line())
    if arguments.model:
        _, source, target = load_translation_model(arguments.model)
    else:
        source, target = build_vocabularies(config, Path(arguments.vocab_dir))
    precisions = arguments.precisions.split(",") if arguments.precisions else [config.training.mixed_precision]
    for precision in precisions:
        if precision not in POLICIES and precision != "auto":
            fail(f"--precisions: {precision!r} is not one of auto, {', '.join(POLICIES)}")
        measured = dataclasses.replace(config, training=dataclasses.replace(config.training, mixed_precision=precision))
        speed, timed = training_speed(measured, source, target, arguments.steps)
        picked = "" if precision != "auto" else f" -> {resolve_precision('auto')[0]}"
        print(
            f"training ({precision}{picked}): {speed:,.0f} target tokens/s ({timed} timed steps, max_tokens "
            f"{config.training.max_tokens})",
            flush=True,
        )
    if arguments.model:
        local = [corpus for corpus in config.data.test if corpus.prefix is not None]
        if not local:
            fail("the config has no local test corpus (data.test: [{prefix: ...}]) to translate")
        files = config.data.files(local[0].prefix)
        lines = read_lines(files[0])
        for beam in (1, 5):
            print(
                f"translate {files[0].name}: {translation_speed(arguments.model, lines, beam):,.1f} "
                f"sentences/s ({'greedy' if beam == 1 else f'beam {beam}'}, {len(lines)} sentences)"
            )
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
