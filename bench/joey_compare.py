"""Compare this toolkit with Joey NMT: same architecture, data, vocabulary and step count.

Usage (from the repository root, with nothing else running on the machine):
    python bench/joey_compare.py                        # 2 rounds of 300 steps, full test set
    python bench/joey_compare.py --steps 10 --rounds 1 --test-lines 30   # smoke test
    python bench/joey_compare.py --model runs/X/model --joey-model /path/joey_model_dir

What it does
  Each round trains both toolkits from scratch for `--steps` steps on Multi30k
  de->en (ours, then Joey NMT; `--rounds` rounds, alternating), then decodes the
  first `--test-lines` sentences of test_2016_flickr greedily and with beam 5.
  Every phase runs in its own subprocess (TensorFlow and PyTorch never share a
  process); Joey runs in the virtual environment /tmp/joey_venv, which is created
  if missing (torch 2.13.0 CPU, joeynmt 2.3.0, importlib_metadata). The table
  shows the median over rounds of each figure and the ratio seq2seq / Joey.

Figures
  - training target tokens/s, steady state: target tokens (non-padding, `<eos>`
    included, `<bos>` not: the same count on both sides and the same as Joey's
    "Tokens per Sec") divided by the summed wall time of the timed steps. A step
    is timed from the start of the forward pass to the end of the optimizer
    update (ours: Keras' on_train_batch_begin/end, batches tokenized and cached
    beforehand, as in bench/translation_bench.py; Joey: its unmodified
    `TrainManager._train_step` wrapped with a timer, ended by a torch optimizer
    step post-hook). Input preparation is excluded on both sides. Left out as
    warm-up: ours, the first step of each bucket shape (graph tracing); Joey,
    its first step.
  - training target tokens/s, all steps: the same over every step, warm-up
    included.
  - Joey's own log figure ("Tokens per Sec", one logging window over the whole
    run: it also counts Joey's data loading/tokenization, done on the fly, and
    with --steps beyond one epoch (~453 batches) only the last epoch's part) is
    printed below the table for reference; the table uses the timed steps.
  - decoding sentences/s: raw source lines in, detokenized text out, batches of
    64 sentences, after one untimed warm-up pass over the same lines, model
    loading excluded. Ours: `translation_speed` of bench/translation_bench.py on
    the model exported after training (`seq2seq.model_dirs.save_translation_model`);
    Joey: `joeynmt.prediction.predict` on its final checkpoint.
  - peak resident memory: ru_maxrss (RUSAGE_SELF) of each worker process, read
    at its end, separately for training and decoding. (RUSAGE_CHILDREN in the
    parent would give the maximum over all children so far, not per toolkit.)
  - mean greedy output length and greedy output words/s, to show how far
    degenerate outputs of briefly trained models move the decoding figures.

Matched settings (both sides)
  Bidirectional GRU encoder 256 units per direction, GRU decoder 512, additive
  (Bahdanau) attention with 512 hidden units, 256-dim embeddings, no tied
  embeddings, dropout 0.3, Adam lr 0.001 (betas 0.9/0.999), global gradient-norm
  clipping 1.0, label smoothing 0.1, loss averaged over target tokens, 64
  sentences per batch, pairs longer than 100 subwords dropped (ours counts the
  target's <eos>, Joey does not; no Multi30k pair comes near), float32
  (ours: mixed precision off unless --our-mixed-precision; Joey cannot use
  bfloat16 on CPU), the same decompressed Multi30k text files, the same joint
  SentencePiece model and the same 8,000 pieces as vocabulary, beam length
  penalty alpha 0.6, intra-op threads = --threads, default the machine's CPU
  count (TensorFlow: `set_intra_op_parallelism_threads`; torch:
  `set_num_threads`; inter-op pools left at their defaults), Joey's data
  loading in the training process (num_workers 0), constant learning rate.
  Run it alone: torch's OpenMP threads stall badly when another process takes
  CPU (measured here with a training run beside it: Joey 92 target tokens/s
  with 2 threads vs 570 with 1), so a busy machine distorts the ratio; a
  warning is printed when the load average is above 0.5.

Differences that remain (Joey's design, not settable)
  - Special-token ids: Joey's Vocabulary always puts <unk>, <pad>, <bos>, <eos>
    first in that order, so Joey has <unk>=0, <pad>=1 where ours has <pad>=0,
    <unk>=1. The piece strings, the segmentation and the vocabulary size are
    identical (the vocab file is the .spm's piece list in Joey's order).
  - Joey appends <eos> to the source; ours does not.
  - Decoder wiring: Joey's recurrent decoder (type recurrent, attention
    bahdanau) runs the GRU first and attends with the new state s_t, feeds the
    previous attentional vector tanh(W[s_t; c_t]) back into the GRU (input
    feeding, chosen here because it gives the same GRU input width, 256+512, as
    ours) and has no output bias; ours is Bahdanau et al. (2015): attend with
    s_{t-1}, feed [y; c_t], output tanh(W[s_t; c_t; y]) and a biased output
    layer. Both bridge the encoder's final state to the decoder state through a
    tanh layer. Parameter counts are printed.
  - Dropout placement: Joey drops source embeddings, the decoder GRU input
    ([target embedding; previous attentional vector]) and the input of its
    attentional layer; ours drops source and target embeddings and the decoder
    outputs.
  - Batching: Joey draws 64 random sentences per batch and pads to the longest;
    ours keeps 64 sentences per batch but groups them by length in the config's
    buckets and pads to the bucket boundary (its normal pipeline, with the
    token-budget batch sizes replaced by 64 in this script only:
    `ours_side.sentence_batches`; the shuffled pairs repeat, so --steps may
    exceed an epoch). Both count only real target tokens; the padding share of
    each is printed. Joey tokenizes on the fly inside its loop (not timed
    above); ours tokenizes in tf.data beforehand.
  - Decoding: ours sorts the test sentences by length before batching; Joey
    batches them in file order. Output limit: ours ceil(1.5 * source + 10),
    Joey int(1.5 * longest source in the batch).
  - A model trained for only --steps steps produces short or degenerate
    translations, which changes decoding speed: pass --model / --joey-model
    (trained models) for realistic decoding figures; the mean output length of
    each side is printed.

Workarounds for the Joey environment (torch 2.13.0, sentencepiece 0.2.3)
  - joeynmt 2.3.0 calls SentencePieceProcessor.SetVocabulary, which this
    sentencepiece build lacks: the Joey workers add a replacement that only
    checks that Joey's vocabulary holds every piece of the model (true here, so
    the real call would change nothing) - see
    `joey_side.patch_joey_sentencepiece`.
  - joeynmt 2.3.0 raises without a `scheduling` entry, and its "plateau"
    scheduler passes `verbose`, which torch 2.13 rejects: the config uses
    "exponential" with decrease_factor 1.0 (a constant learning rate).
  Joey itself is run unmodified otherwise: `joeynmt.training.train` for
  training (what `python -m joeynmt train` calls, test after training skipped)
  and `joeynmt.prediction.prepare`/`predict` for decoding (what `joeynmt test`
  calls, minus file writing and scoring).

Code
  This file holds the command line, the rounds and the worker mechanism: each
  phase is this file run again as `python joey_compare.py --worker NAME --job
  FILE` (our Python for ours-*, the Joey environment's for joey-*), which
  writes its result as JSON beside the job. The rest is in bench/:
  compare_setup.py (matched settings, data, vocabulary), ours_side.py and
  joey_side.py (each toolkit's configs and workers), compare_report.py (the
  table) and common.py (timing, throughput, errors, host facts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, BenchError, fail, peak_rss_mib, warn_if_busy
from compare_report import report
from compare_setup import ARCH, BEAMS, DEFAULT_CONFIG, DEFAULT_DATA, SOURCE, prepare_data, resolve_spm, spm_pieces
from joey_side import (
    JOEY_VENV,
    ensure_joey_venv,
    joey_config,
    joey_decode_config,
    joey_decode_worker,
    joey_train_worker,
    read_yaml,
    write_joey_vocab,
    write_yaml,
)
from ours_side import our_overrides, our_versions, ours_decode_worker, ours_train_worker

SCRIPT = Path(__file__).resolve()  # each worker runs this file again: `SCRIPT --worker NAME --job FILE`


# --------------------------------------------------------------------------- workers (each in a fresh process)

WORKERS = {
    "ours-train": ours_train_worker,
    "ours-decode": ours_decode_worker,
    "joey-train": joey_train_worker,
    "joey-decode": joey_decode_worker,
}


def run_worker_here(name: str, job_file: str) -> int:
    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    started = time.perf_counter()
    result = WORKERS[name](job)
    result["peak_rss_mib"] = peak_rss_mib()
    result["process_seconds"] = time.perf_counter() - started
    Path(job["result"]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


def launch(python: Path | str, name: str, job: dict, work: Path, tag: str) -> dict:
    """Runs one worker in a fresh process; returns its result (the log is kept in work/logs)."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    job_file, log_file = logs / f"{tag}.job.json", logs / f"{tag}.log"
    job = {**job, "result": str(logs / f"{tag}.result.json")}
    Path(job["result"]).unlink(missing_ok=True)
    job_file.write_text(json.dumps(job, indent=1), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    print(f"  {tag}: {name} ...", end=" ", flush=True)
    started = time.perf_counter()
    with log_file.open("w", encoding="utf-8") as log:
        command = [str(python), str(SCRIPT), "--worker", name, "--job", str(job_file)]
        code = subprocess.run(
            command, cwd=REPO if name.startswith("ours") else work, env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    print(f"{time.perf_counter() - started:.0f} s", flush=True)
    if code != 0 or not Path(job["result"]).is_file():
        tail = "\n".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise BenchError(f"worker {name} failed (exit {code}); last lines of {log_file}:\n{tail}")
    return json.loads(Path(job["result"]).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- one round


def run_round(index: int, arguments, setup: dict) -> dict:
    work, data, threads = setup["work"], setup["data"], arguments.threads
    ours_dir = work / f"ours_round{index}" / "model"
    result = {
        "ours_train": launch(
            sys.executable,
            "ours-train",
            {
                "config": str(arguments.config),
                "overrides": setup["our_overrides"],
                "spm": str(setup["spm"]),
                "steps": arguments.steps,
                "batch_sentences": ARCH["batch_sentences"],
                "export_dir": str(ours_dir),
                "threads": threads,
            },
            work,
            f"r{index}-ours-train",
        )
    }
    result["ours_decode"] = launch(
        sys.executable,
        "ours-decode",
        {
            "model_dir": str(arguments.model or ours_dir),
            "source": str(data["test_source"]) + f".{SOURCE}",
            "beams": list(BEAMS),
            "threads": threads,
        },
        work,
        f"r{index}-ours-decode",
    )
    joey_dir = work / f"joey_round{index}"
    train_cfg = joey_config(data, setup["spm"], setup["joey_vocab"], joey_dir, arguments.steps)
    config_file = write_yaml(train_cfg, work / f"joey_round{index}.yaml")
    result["joey_train"] = launch(
        setup["joey_python"],
        "joey-train",
        {"config": str(config_file), "threads": threads},
        work,
        f"r{index}-joey-train",
    )
    if arguments.joey_model:
        model_dir = Path(arguments.joey_model).resolve()
        decode_cfg = joey_decode_config(read_yaml(model_dir / "config.yaml"), model_dir, data, None)
    else:
        decode_cfg = joey_decode_config(train_cfg, joey_dir, data, Path(result["joey_train"]["checkpoint"]))
    decode_file = write_yaml(decode_cfg, work / f"joey_round{index}_decode.yaml")
    result["joey_decode"] = launch(
        setup["joey_python"],
        "joey-decode",
        {
            "config": str(decode_file),
            "beams": list(BEAMS),
            "threads": threads,
            "log": str(work / "logs" / f"r{index}-joey-decode.joey.log"),
        },
        work,
        f"r{index}-joey-decode",
    )
    return result


# --------------------------------------------------------------------------- main


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("--steps", type=int, default=300, help="training steps per toolkit and round (300)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each training both toolkits (2)")
    parser.add_argument(
        "--test-lines", type=int, default=0, help="decode the first N test sentences (default 0: all 1,000)"
    )
    parser.add_argument(
        "--spm",
        help="SentencePiece model for both sides and both languages (default: "
        "VOCAB_DIR/source.spm, built with `seq2seq build-vocab` if missing)",
    )
    parser.add_argument(
        "--vocab-dir",
        default="/tmp/bench_vocab",
        help="where the default SentencePiece model is kept (as in translation_bench.py)",
    )
    parser.add_argument("--model", help="our trained model directory, for the decoding figures")
    parser.add_argument("--joey-model", help="a trained Joey NMT model directory, for the decoding figures")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA), help=f"Multi30k .gz files ({DEFAULT_DATA})")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="our base config (architecture is pinned)")
    parser.add_argument("--work-dir", default="/tmp/joey_compare", help="configs, logs, models, plain data")
    parser.add_argument("--joey-venv", default=str(JOEY_VENV), help="Joey NMT virtual environment")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="intra-op threads of each side (default: all CPUs, %(default)s here)",
    )
    parser.add_argument(
        "--our-mixed-precision",
        action="store_true",
        help="train ours in mixed bfloat16 (default float32, as Joey on CPU)",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker is None:
        for name in ("steps", "rounds", "threads"):
            if getattr(arguments, name) < 1:
                parser.error(f"--{name.replace('_', '-')} must be at least 1")
        if arguments.test_lines < 0:
            parser.error("--test-lines must be 0 (all) or positive")
    return arguments


def setup_run(arguments) -> dict:
    warn_if_busy()
    work = Path(arguments.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for name in ("model", "joey_model", "config"):
        value = getattr(arguments, name)
        if value and not Path(value).exists():
            raise BenchError(f"--{name.replace('_', '-')} {value}: not found.")
    if arguments.model:
        arguments.model = str(Path(arguments.model).resolve())
    arguments.config = str(Path(arguments.config).resolve())
    data = prepare_data(Path(arguments.data_dir), work, arguments.test_lines or None)
    joey_versions = ensure_joey_venv(Path(arguments.joey_venv))
    spm = resolve_spm(arguments, data).resolve()
    pieces = spm_pieces(spm)
    return {
        "work": work,
        "data": data,
        "spm": spm,
        "pieces": len(pieces),
        "joey_vocab": write_joey_vocab(pieces, work / "joey_vocab.txt"),
        "joey_python": Path(arguments.joey_venv) / "bin" / "python",
        "our_overrides": our_overrides(data, arguments.our_mixed_precision),
        "versions": (our_versions(), joey_versions),
    }


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    if arguments.worker:
        return run_worker_here(arguments.worker, arguments.job)
    try:
        setup = setup_run(arguments)
        rounds = []
        for index in range(1, arguments.rounds + 1):
            print(f"round {index}/{arguments.rounds}", flush=True)
            rounds.append(run_round(index, arguments, setup))
        report(rounds, arguments, setup)
    except BenchError as error:
        fail(error, status=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
