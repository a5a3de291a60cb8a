"""Helpers every bench script shares: errors, host facts, timed Keras steps, throughput.

Standard library only at import time (TensorFlow and Keras are imported inside
the functions that need them), so the Joey NMT workers of joey_compare.py,
which run in a virtual environment without TensorFlow, can import it too.

  - `BenchError`, `fail`: problems the user can fix, printed as "error: ..."
    on stderr with an exit status;
  - `peak_rss_mib`, `cpu_name`, `host_line`, `warn_if_busy`: the machine and
    the process;
  - `without_autotune`, `timed_fit`, `token_steps`, `throughput`: one epoch of
    `model.fit` with every step timed (forward pass to optimizer update, from
    Keras' on_train_batch_begin/end), per-step target-token counts, and the
    tokens/s figures made of them.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[1]


class BenchError(Exception):
    """A problem the user can fix (missing data, broken environment, failed worker)."""


def run_python(arguments: list, cwd=None, environment: dict | None = None) -> subprocess.CompletedProcess:
    """`python ARGUMENTS` (this interpreter) in `cwd`, its output captured as text; TensorFlow's logs quiet."""
    environment = {**(environment if environment is not None else os.environ), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, *map(str, arguments)], cwd=cwd, env=environment, capture_output=True, text=True
    )


def fail(message: object, status: int = 2) -> NoReturn:
    """Prints `error: message` on stderr and exits with `status`."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(status)


# --------------------------------------------------------------------------- the machine and the process


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss of RUSAGE_SELF, KiB on Linux) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def host_line() -> str:
    """`host: N CPUs; tensorflow X, keras Y` (imports TensorFlow)."""
    import keras
    import tensorflow as tf

    return f"host: {os.cpu_count()} CPUs; tensorflow {tf.__version__}, keras {keras.__version__}"


def warn_if_busy() -> None:
    """Other processes distort every figure; torch's OpenMP threads suffer most when starved."""
    load = os.getloadavg()[0]
    if load > 0.5:
        print(
            f"warning: load average {load:.1f} before starting: other processes are running, so the "
            "figures will be distorted (run alone on the machine for real measurements)",
            flush=True,
        )


# --------------------------------------------------------------------------- timed training steps


def without_autotune(dataset):
    """`dataset` with tf.data autotuning off, so that its thread use does not vary between steps."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def timed_fit(model, data, metric: str | None = None) -> list[tuple[float, float | None]]:
    """One epoch of `model.fit` over `data`; per step, (seconds from batch begin to end, logs[metric]).

    With `metric="target_tokens"` (the `TokenCount` metric of a translation
    model) the second value is the cumulative target-token count; without a
    metric it is None.
    """
    import keras

    records: list[tuple[float, float | None]] = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            records.append((time.perf_counter() - self.started, float(logs[metric]) if metric else None))

    model.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[StepTimer()])
    return records


def token_steps(records: list[tuple[float, float | None]], shapes: list[tuple[int, int]]) -> list[dict]:
    """Per-step dicts for `throughput` from `timed_fit(..., "target_tokens")` records and the target shapes.

    The first step of each bucket shape (target length) traces the graph: it is
    marked untimed.
    """
    steps, previous, seen = [], 0.0, set()
    for (seconds, cumulative), shape in zip(records, shapes):
        steps.append(
            {
                "seconds": seconds,
                "tokens": cumulative - previous,
                "positions": shape[0] * shape[1],
                "sentences": shape[0],
                "timed": shape[1] in seen,
            }
        )
        previous = cumulative
        seen.add(shape[1])
    return steps


def throughput(steps: list[dict]) -> dict:
    """Target tokens/s over the timed steps and over all steps, plus batch statistics.

    Each step is a dict with `seconds`, `tokens` (real target tokens),
    `positions` (padded target positions), `sentences` and `timed` (False for
    warm-up steps).
    """

    def rate(selected):
        seconds = sum(step["seconds"] for step in selected)
        return sum(step["tokens"] for step in selected) / seconds if seconds else None

    tokens = sum(step["tokens"] for step in steps)
    return {
        "steady_tokens_per_s": rate([step for step in steps if step["timed"]]),
        "timed_steps": sum(1 for step in steps if step["timed"]),
        "all_tokens_per_s": rate(steps),
        "steps": len(steps),
        "tokens_per_step": tokens / len(steps) if steps else None,
        "padding_share": 1 - tokens / max(1, sum(step["positions"] for step in steps)),
        "train_seconds": sum(step["seconds"] for step in steps),
        "batch_sentences": sorted({step["sentences"] for step in steps}),
    }
