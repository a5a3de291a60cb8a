"""Benchmark shipped language models: perplexity, training and scoring throughput, memory.

Usage (from the repository root, nothing else running):
    python bench/lm_bench.py saved_models/lm_ptb_lstm saved_models/lm_ptb_rnn saved_models/lm_shakespeare_char

For each model directory it reads the config the model was trained with and prints:
  - stream perplexity (state carried between windows, as in training) on the
    validation and test text; for character models also nats per character;
  - `lm score` corpus perplexity of the test (or validation) lines, each line
    scored alone from a zero state, and the scoring throughput in tokens/s;
  - training throughput in tokens/s: the median time of timed training steps
    on real batches (tf.data autotune off), mixed precision as configured;
  - the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from common import host_line, peak_rss_mib, timed_fit, without_autotune  # noqa: E402

from seq2seq import config as config_lib  # noqa: E402
from seq2seq.lm.config import LMConfig  # noqa: E402
from seq2seq.lm.scoring import corpus_score, score_lines  # noqa: E402
from seq2seq.lm.training import LMCorpus, compile_for_stream, stateful_copy, stream_perplexity  # noqa: E402
from seq2seq.model_dirs import load_language_model  # noqa: E402
from seq2seq.textio import read_lines  # noqa: E402
from seq2seq.training import configure_precision, make_optimizer  # noqa: E402


def training_tokens_per_second(model, config: LMConfig, windows, steps: int) -> float:
    training = config.training
    configure_precision(training.mixed_precision)
    trainee = stateful_copy(model, training.batch_size, training.window_length)
    compile_for_stream(trainee, make_optimizer(training.optimizer, training.learning_rate, training.clip_norm))
    batches = without_autotune(windows).take(steps + 5).cache()
    times = [seconds for seconds, _ in timed_fit(trainee, batches)]
    configure_precision("float32")
    return training.batch_size * training.window_length / statistics.median(times[5:])


def bench(model_dir: Path, data_dir: str | None, steps: int) -> None:
    overrides = [f"data.dir={data_dir}"] if data_dir else []
    config = config_lib.load(LMConfig, model_dir / "config.yaml", overrides)
    model, vocab = load_language_model(model_dir)
    corpus = LMCorpus(config.data)
    batch, window = config.training.batch_size, config.training.window_length
    print(
        f"== {model_dir}  ({vocab.level}-level {model.core.cell} {model.core.num_layers}x{model.core.units}, "
        f"{model.count_params():,} parameters)"
    )
    valid = stream_perplexity(model, corpus.windows("valid", vocab, batch, window), batch, window)
    print(
        f"valid stream perplexity: {valid:.2f}"
        + (f"  ({np.log(valid):.4f} nats/char)" if vocab.level == "char" else "")
    )
    if corpus.test_path is not None:
        test = stream_perplexity(model, corpus.windows("test", vocab, batch, window), batch, window)
        print(f"test stream perplexity: {test:.2f}")
        lines = read_lines(corpus.test_path)
    else:
        lines = (
            read_lines(corpus.valid_path)[corpus.train_lines :]
            if config.data.valid is None
            else read_lines(corpus.valid_path)
        )
    score_lines(model, vocab, lines[:64])  # warm-up (tracing)
    started = time.perf_counter()
    scores = score_lines(model, vocab, lines, batch_size=64)
    elapsed = time.perf_counter() - started
    total = corpus_score(scores)
    print(
        f"lm score: {len(lines)} lines, {total.tokens} tokens, {total.tokens / elapsed:,.0f} tokens/s, "
        f"sentence-level corpus perplexity {total.perplexity:.2f}"
    )
    speed = training_tokens_per_second(model, config, corpus.windows("train", vocab, batch, window), steps)
    print(
        f"training: {speed:,.0f} tokens/s (batch {batch} x window {window}, "
        f"mixed_precision={config.training.mixed_precision}, median of {steps} steps)"
    )
    print(f"peak RSS so far: {peak_rss_mib():,.0f} MiB", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="language-model directories")
    parser.add_argument("--data-dir", help="override the configs' data.dir")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps")
    arguments = parser.parse_args()
    print(host_line())
    for model_dir in arguments.models:
        bench(model_dir, arguments.data_dir, arguments.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
