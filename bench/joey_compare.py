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
    `sentence_batches`; the shuffled pairs repeat, so --steps may exceed an
    epoch). Both count only real target tokens; the padding share of each is
    printed. Joey tokenizes on the fly inside its loop (not timed above); ours
    tokenizes in tf.data beforehand.
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
    the real call would change nothing) - see `patch_joey_sentencepiece`.
  - joeynmt 2.3.0 raises without a `scheduling` entry, and its "plateau"
    scheduler passes `verbose`, which torch 2.13 rejects: the config uses
    "exponential" with decrease_factor 1.0 (a constant learning rate).
  Joey itself is run unmodified otherwise: `joeynmt.training.train` for
  training (what `python -m joeynmt train` calls, test after training skipped)
  and `joeynmt.prediction.prepare`/`predict` for decoding (what `joeynmt test`
  calls, minus file writing and scoring).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("/work/shared/data/multi30k")
DEFAULT_CONFIG = REPO / "configs" / "multi30k_de_en_gru_bahdanau.yaml"
JOEY_VENV = Path("/tmp/joey_venv")
TORCH_PIN, JOEY_PIN = "2.13.0", "2.3.0"
SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}
SOURCE, TARGET = "de", "en"
BEAMS = (1, 5)
BEAM_ALPHA = 0.6  # ours: Translator's default length penalty; Joey: testing.beam_alpha
ARCH = {
    "embedding_dim": 256, "encoder_units": 256, "decoder_units": 512, "attention_units": 512,
    "dropout": 0.3, "learning_rate": 0.001, "clip_norm": 1.0, "label_smoothing": 0.1,
    "batch_sentences": 64, "max_length": 100, "seed": 1234,
}
OUR_SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")  # ids 0..3, seq2seq.core.subwords


class BenchError(Exception):
    """A problem the user can fix (missing data, broken environment, failed worker)."""


# --------------------------------------------------------------------------- data and vocabulary

def prepare_data(data_dir: Path, work: Path, test_lines: int | None) -> dict:
    """Decompresses Multi30k into `work/data` (plain files both toolkits read); returns the paths."""
    out = work / "data"
    out.mkdir(parents=True, exist_ok=True)
    for name, stem in SPLITS.items():
        counts = [_decompress(data_dir / f"{stem}.{lang}.gz", out / f"{name}.{lang}") for lang in (SOURCE, TARGET)]
        if counts[0] != counts[1]:
            raise BenchError(f"{data_dir}/{stem}.{SOURCE}.gz and .{TARGET}.gz differ in length: {counts}")
    lines = (out / f"test.{SOURCE}").read_text(encoding="utf-8").splitlines()
    lines = lines[:test_lines] if test_lines else lines
    source_only = work / "data" / "test_source"  # no .en beside it: Joey then decodes without references
    source_only.mkdir(exist_ok=True)
    (source_only / f"test.{SOURCE}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"dir": out, "train": out / "train", "val": out / "val", "test_source": source_only / "test",
            "test_lines": len(lines)}


def _decompress(source: Path, target: Path) -> int:
    """Writes `source` (.gz) as plain UTF-8 text to `target` unless done before; returns the line count."""
    if not source.is_file():
        raise BenchError(f"{source}: Multi30k file not found (--data-dir points at the folder holding "
                         f"{', '.join(f'{s}.{SOURCE}.gz' for s in SPLITS.values())} and the .{TARGET}.gz files).")
    if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            text = handle.read()
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    with target.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def resolve_spm(arguments, data: dict) -> Path:
    """The SentencePiece model both sides use: --spm, else VOCAB_DIR/source.spm (built if missing)."""
    if arguments.spm:
        path = Path(arguments.spm)
        if not path.is_file():
            raise BenchError(f"--spm {path}: file not found.")
        return path
    vocab_dir = Path(arguments.vocab_dir)
    path = vocab_dir / "source.spm"
    if path.is_file():
        print(f"reusing {path} (--spm to choose another)", flush=True)
        return path
    print(f"training a SentencePiece model into {vocab_dir} (seq2seq build-vocab)...", flush=True)
    command = [sys.executable, "-m", "seq2seq", "build-vocab", str(arguments.config),
               *(f"--set={item}" for item in data_overrides(data)), f"--set=run_dir={vocab_dir}"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0 or not path.is_file():
        raise BenchError(f"seq2seq build-vocab failed:\n{result.stdout}{result.stderr}")
    return path


def spm_pieces(path: Path) -> list[str]:
    """The pieces of a seq2seq SentencePiece model, checked for the toolkit's special ids 0..3."""
    import sentencepiece

    try:
        processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (RuntimeError, OSError) as error:
        raise BenchError(f"{path}: not a SentencePiece model ({error}).") from None
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    if tuple(pieces[:4]) != OUR_SPECIALS:
        raise BenchError(f"{path}: pieces 0-3 are {pieces[:4]}, not {list(OUR_SPECIALS)}; "
                         "use a model made by `seq2seq build-vocab` (or `seq2seq train`).")
    return pieces


def write_joey_vocab(pieces: list[str], path: Path) -> Path:
    """Joey's vocabulary file: the same pieces, specials first in Joey's fixed order unk, pad, bos, eos."""
    pad, unk, bos, eos = OUR_SPECIALS
    joey_order = [unk, pad, bos, eos] + [piece for piece in pieces if piece not in OUR_SPECIALS]
    path.write_text("\n".join(joey_order) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- configs

def data_overrides(data: dict) -> list[str]:
    return [f"data.dir={data['dir']}", "data.train_prefix=train", "data.valid_prefix=val",
            "data.test_prefix=test", f"data.source_language={SOURCE}", f"data.target_language={TARGET}",
            "data.tfds_name=null"]


def our_overrides(data: dict, mixed_precision: bool) -> list[str]:
    """`--set` overrides that pin our config to the matched architecture and training settings."""
    a = ARCH
    return data_overrides(data) + [
        f"data.max_source_length={a['max_length']}", f"data.max_target_length={a['max_length']}",
        f"model.embedding_dim={a['embedding_dim']}", "model.encoder.cell=gru",
        f"model.encoder.units={a['encoder_units']}", "model.encoder.num_layers=1",
        "model.encoder.bidirectional=true", "model.decoder.cell=gru", f"model.decoder.units={a['decoder_units']}",
        "model.decoder.num_layers=1", "model.attention=bahdanau", f"model.attention_units={a['attention_units']}",
        f"model.dropout={a['dropout']}", "model.tie_embeddings=false", "training.optimizer=adam",
        f"training.learning_rate={a['learning_rate']}", f"training.clip_norm={a['clip_norm']}",
        f"training.label_smoothing={a['label_smoothing']}",
        f"training.mixed_precision={str(mixed_precision).lower()}",
        "training.ema_momentum=null", f"training.seed={a['seed']}", "training.steps_per_epoch=null",
    ]


def joey_config(data: dict, spm: Path, vocab: Path, model_dir: Path, steps: int) -> dict:
    """The Joey NMT 2.3 config of the matched model (keys as read by joeynmt/config.py, model.py)."""
    a = ARCH
    side = {"level": "bpe", "lowercase": False, "normalize": False, "max_length": a["max_length"],
            "voc_file": str(vocab), "tokenizer_type": "sentencepiece", "tokenizer_cfg": {"model_file": str(spm)}}
    embeddings = {"embedding_dim": a["embedding_dim"], "scale": False, "dropout": a["dropout"]}
    return {
        "name": "joey_compare", "joeynmt_version": JOEY_PIN, "model_dir": str(model_dir),
        "use_cuda": False, "fp16": False, "random_seed": a["seed"],
        "data": {
            "train": str(data["train"]), "dev": str(data["val"]), "dataset_type": "plain",
            "src": {"lang": SOURCE, **side}, "trg": {"lang": TARGET, **copy.deepcopy(side)},
            "special_symbols": {"unk_token": "<unk>", "unk_id": 0, "pad_token": "<pad>", "pad_id": 1,
                                "bos_token": "<bos>", "bos_id": 2, "eos_token": "<eos>", "eos_id": 3},
        },
        "training": {
            "optimizer": "adam", "adam_betas": [0.9, 0.999], "learning_rate": a["learning_rate"],
            # Joey 2.3.0 requires a scheduler (no `scheduling` raises) and its "plateau" passes
            # `verbose`, which torch 2.13 rejects: ExponentialLR with gamma 1.0 keeps lr constant.
            "scheduling": "exponential", "decrease_factor": 1.0,
            "loss": "crossentropy", "label_smoothing": a["label_smoothing"],
            "normalization": "tokens", "clip_grad_norm": a["clip_norm"], "batch_size": a["batch_sentences"],
            "batch_type": "sentence", "batch_multiplier": 1, "epochs": 1_000_000, "updates": steps,
            "logging_freq": steps, "validation_freq": 2 * steps,  # one log line at the end, no validation
            "early_stopping_metric": "ppl", "print_valid_sents": [], "shuffle": True, "keep_best_ckpts": 1,
            "overwrite": True, "num_workers": 0,
        },
        "testing": joey_testing(1),
        "model": {
            "initializer": "xavier_uniform", "embed_initializer": "xavier_uniform", "bias_initializer": "zeros",
            "tied_embeddings": False, "tied_softmax": False,
            "encoder": {"type": "recurrent", "rnn_type": "gru", "hidden_size": a["encoder_units"],
                        "bidirectional": True, "num_layers": 1, "dropout": a["dropout"], "embeddings": embeddings},
            "decoder": {"type": "recurrent", "rnn_type": "gru", "hidden_size": a["decoder_units"],
                        "num_layers": 1, "attention": "bahdanau", "input_feeding": True, "init_hidden": "bridge",
                        "dropout": a["dropout"], "hidden_dropout": a["dropout"], "embeddings": dict(embeddings)},
        },
    }


def joey_testing(beam: int) -> dict:
    return {"batch_size": ARCH["batch_sentences"], "batch_type": "sentence", "beam_size": beam,
            "beam_alpha": BEAM_ALPHA, "n_best": 1, "max_output_length": -1, "eval_metrics": []}


def joey_decode_config(train_cfg: dict, model_dir: Path, data: dict, checkpoint: Path | None) -> dict:
    """A config for decoding the test source with the Joey model in `model_dir` (ours or --joey-model)."""
    cfg = copy.deepcopy(train_cfg)
    cfg["model_dir"] = str(model_dir)
    cfg["use_cuda"], cfg["fp16"] = False, False
    cfg["data"].pop("train", None)
    cfg["data"]["dev"], cfg["data"]["test"] = str(data["val"]), str(data["test_source"])
    cfg["testing"] = joey_testing(1)
    if checkpoint is not None:
        cfg["testing"]["load_model"] = str(checkpoint)
    for side in ("src", "trg"):  # a copied model directory: fall back to the files Joey keeps in it
        entry = cfg["data"][side]
        if entry.get("voc_file") and not Path(entry["voc_file"]).is_file():
            entry.pop("voc_file")
        model_file = entry.get("tokenizer_cfg", {}).get("model_file")
        if model_file and not Path(model_file).is_file() and (model_dir / Path(model_file).name).is_file():
            entry["tokenizer_cfg"]["model_file"] = str(model_dir / Path(model_file).name)
    return cfg


def write_yaml(data: dict, path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def read_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise BenchError(f"{path}: not found (--joey-model must be a Joey model directory with config.yaml).")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- Joey environment

def ensure_joey_venv(venv: Path) -> dict:
    """Creates the Joey virtual environment if missing; returns its package versions."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} (torch {TORCH_PIN} CPU, joeynmt {JOEY_PIN}); this downloads packages...",
              flush=True)
        _run([sys.executable, "-m", "venv", str(venv)])
    versions = _joey_versions(python)
    if versions is None:
        pip = str(venv / "bin" / "pip")
        for command in ([pip, "install", f"torch=={TORCH_PIN}"],
                        [pip, "install", f"joeynmt=={JOEY_PIN}", f"torch=={TORCH_PIN}"],
                        [pip, "install", "importlib_metadata"]):  # joeynmt needs it, does not declare it
            _run(command)
        versions = _joey_versions(python)
    if versions is None:
        raise BenchError(f"{venv}: joeynmt/torch still do not import; delete the folder and run again.")
    if versions["torch"].split("+")[0] != TORCH_PIN or versions["joeynmt"] != JOEY_PIN:
        raise BenchError(f"{venv} holds torch {versions['torch']} and joeynmt {versions['joeynmt']}, "
                         f"not {TORCH_PIN} and {JOEY_PIN}; delete the folder and run again.")
    return versions


def _joey_versions(python: Path) -> dict | None:
    probe = ("import json, importlib.metadata as m, torch, joeynmt, importlib_metadata, sentencepiece, sys;"
             "print(json.dumps({p: m.version(p) for p in ('torch', 'joeynmt', 'sentencepiece')} | "
             "{'python': sys.version.split()[0]}))")
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return json.loads(result.stdout) if result.returncode == 0 else None


def _run(command: list[str]) -> None:
    print("  $", " ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        raise BenchError(f"command failed: {' '.join(command)}")


def our_versions() -> dict:
    import importlib.metadata as metadata

    versions = {"python": platform.python_version()}
    for package in ("seq2seq-rnn", "tensorflow", "keras", "tensorflow-text", "sentencepiece"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                            text=True)
    versions["git"] = commit.stdout.strip() or "unknown"
    return versions


# --------------------------------------------------------------------------- workers (run in subprocesses)

def sentence_batches(config, source, target, batch_size: int):
    """Training batches of exactly `batch_size` sentences in the config's length buckets (bench only).

    The toolkit's own pipeline (`translation_training.batches`) sizes each bucket's
    batch by a token budget; here every bucket holds `batch_size` pairs, padded to
    the bucket boundary like the toolkit does, so a compiled model still sees one
    shape per bucket.
    """
    import tensorflow as tf
    from pipelines import translation as pipes
    from seq2seq.translation.training import string_pairs

    training = config.training
    boundaries = list(training.bucket_boundaries)
    max_source = min(config.data.max_source_length, boundaries[-1] - 1)
    max_target = min(config.data.max_target_length, boundaries[-1] - 1)
    examples = (string_pairs(config, "train")
                .apply(pipes.tokenize_pairs(source.model_proto, target.model_proto))
                .apply(pipes.to_model_inputs(target.bos_id, target.eos_id))
                .apply(pipes.filter_by_length(max_source, max_target))
                .shuffle(training.shuffle_buffer or 30000, seed=training.seed)
                .repeat())  # --steps may exceed one epoch (Joey moves on to the next epoch too)

    def length(inputs, targets):
        return tf.maximum(tf.size(inputs["source_ids"]), tf.size(targets))

    return examples.bucket_by_sequence_length(length, bucket_boundaries=boundaries,
                                              bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
                                              pad_to_bucket_boundary=True, drop_remainder=False)


def throughput(steps: list[dict], timed: list[bool]) -> dict:
    """Target tokens/s over the timed steps and over all steps, plus batch statistics."""
    def rate(selected):
        seconds = sum(step["seconds"] for step in selected)
        return sum(step["tokens"] for step in selected) / seconds if seconds else None

    tokens = sum(step["tokens"] for step in steps)
    return {"steady_tokens_per_s": rate([s for s, keep in zip(steps, timed) if keep]),
            "timed_steps": sum(timed), "all_tokens_per_s": rate(steps), "steps": len(steps),
            "tokens_per_step": tokens / len(steps) if steps else None,
            "padding_share": 1 - tokens / max(1, sum(step["positions"] for step in steps)),
            "train_seconds": sum(step["seconds"] for step in steps)}


def ours_train_worker(job: dict) -> dict:
    """Trains our model for job["steps"] steps on 64-sentence batches, timing each step; exports it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    import keras
    from seq2seq import config as config_lib
    from seq2seq.model_dirs import save_translation_model
    from seq2seq.core.subwords import SubwordVocabulary
    from seq2seq.training import configure_precision
    from seq2seq.translation.config import TranslationConfig
    from seq2seq.translation.training import build_model, compile_model

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import translation_bench

    config = config_lib.load(TranslationConfig, job["config"], job["overrides"])
    vocab = SubwordVocabulary.load(job["spm"])
    keras.utils.set_random_seed(config.training.seed)
    options = tf.data.Options()
    options.autotune.enabled = False
    data = (sentence_batches(config, vocab, vocab, job["batch_sentences"]).with_options(options)
            .take(job["steps"]).cache())
    shapes = [tuple(batch[1].shape) for batch in data]  # fills the cache: input preparation is not timed
    configure_precision(config.training.mixed_precision)
    model = build_model(config, len(vocab), len(vocab))
    model.build()
    compile_model(model, config)
    records = translation_bench.timed_fit(model, data)
    steps, previous, seen, timed = [], 0.0, set(), []
    for (seconds, cumulative), shape in zip(records, shapes):
        steps.append({"seconds": seconds, "tokens": cumulative - previous, "positions": shape[0] * shape[1]})
        previous = cumulative
        timed.append(shape[1] in seen)  # each bucket's first step traces the graph
        seen.add(shape[1])
    save_translation_model(job["export_dir"], model, vocab, vocab, config)
    configure_precision(False)
    return {**throughput(steps, timed), "parameters": int(model.count_params()),
            "batch_sentences": sorted({shape[0] for shape in shapes}),
            "threads": f"TensorFlow intra-op {tf.config.threading.get_intra_op_parallelism_threads()}, "
                       f"inter-op default ({tf.config.threading.get_inter_op_parallelism_threads()} = auto)",
            "mixed_precision": config.training.mixed_precision}


def ours_decode_worker(job: dict) -> dict:
    """Decoding speed of our model directory (bench/translation_bench.py's `translation_speed`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import translation_bench
    from seq2seq.model_dirs import load_translation_model
    from seq2seq.translation.translator import Translator

    lines = Path(job["source"]).read_text(encoding="utf-8").splitlines()
    speeds = {str(beam): translation_bench.translation_speed(job["model_dir"], lines, beam)
              for beam in job["beams"]}
    # Output lengths, from a separate untimed greedy pass (translation_speed returns only the speed).
    hypotheses = Translator(*load_translation_model(job["model_dir"]), beam_size=1).translate(lines)
    words = statistics.mean(len(h[0].text.split()) for h in hypotheses)
    return {"sentences_per_s": speeds, "mean_output_words": words, "sentences": len(lines),
            "output_words_per_s": words * speeds["1"] if "1" in speeds else None}


def patch_joey_sentencepiece() -> str:
    """Supplies `SentencePieceProcessor.SetVocabulary` where the installed sentencepiece lacks it.

    joeynmt 2.3.0 calls it to restrict segmentation to the pieces in Joey's vocabulary;
    the sentencepiece 0.2.3 wheel in the Joey environment has no such method. Here
    Joey's vocabulary holds every piece of the model, so the restriction changes
    nothing: the replacement only checks that this is so (and fails otherwise).
    """
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor
    if hasattr(processor, "SetVocabulary"):
        return "native SetVocabulary"

    def set_vocabulary(self, valid_vocab):
        allowed = set(valid_vocab)
        missing = [self.id_to_piece(i) for i in range(self.get_piece_size())
                   if self.id_to_piece(i) not in allowed and not self.is_control(i)]
        if missing:
            raise RuntimeError(f"Joey's vocabulary lacks {len(missing)} pieces of the SentencePiece model "
                               f"(e.g. {missing[:5]}); this bench cannot restrict segmentation without "
                               "SentencePieceProcessor.SetVocabulary.")

    processor.SetVocabulary = set_vocabulary
    return "SetVocabulary shim (vocabulary = all pieces: no-op)"


def joey_train_worker(job: dict) -> dict:
    """Runs Joey's own training (`joeynmt.training.train`) with a per-step timer around it."""
    import torch
    from joeynmt import training
    from joeynmt.config import load_config
    from joeynmt.helpers import make_model_dir
    from joeynmt.helpers_for_ddp import get_logger
    from torch.optim.optimizer import register_optimizer_step_post_hook

    torch.set_num_threads(job["threads"])
    patched = patch_joey_sentencepiece()
    cfg = load_config(Path(job["config"]))
    model_dir = Path(cfg["model_dir"])
    make_model_dir(model_dir, overwrite=True)  # what `python -m joeynmt train` does first
    shutil.copy2(job["config"], model_dir / "config.yaml")
    get_logger("", log_file=str(model_dir / "train.log"))
    pending, steps, info = [], [], {}
    original_step = training.TrainManager._train_step

    def timed_train_step(self, batch):
        if "parameters" not in info:
            info["parameters"] = sum(p.numel() for p in self.model.parameters())
        started = time.perf_counter()
        result = original_step(self, batch)
        pending.append((started, int(batch.ntokens), int(batch.trg.numel()), int(batch.nseqs)))
        return result

    def step_finished(optimizer, args, kwargs):
        started, tokens, positions, sentences = pending.pop()
        steps.append({"seconds": time.perf_counter() - started, "tokens": tokens, "positions": positions,
                      "sentences": sentences})

    training.TrainManager._train_step = timed_train_step
    register_optimizer_step_post_hook(step_finished)
    training.train(rank=0, world_size=None, cfg=cfg, skip_test=True)
    log = (model_dir / "train.log").read_text(encoding="utf-8")
    logged = [float(value) for value in re.findall(r"Tokens per Sec:\s*([0-9.]+)", log)]
    return {**throughput(steps, [index > 0 for index in range(len(steps))]),
            "parameters": info.get("parameters"), "log_tokens_per_s": logged[-1] if logged else None,
            "batch_sentences": sorted({step["sentences"] for step in steps}),
            "checkpoint": str(model_dir / "latest.ckpt"), "sentencepiece": patched,
            "threads": f"torch intra-op {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}"}


def joey_decode_worker(job: dict) -> dict:
    """Decoding speed of a Joey model: `joeynmt.prediction.predict` on the test source, load excluded."""
    import torch
    from joeynmt.config import load_config, parse_global_args
    from joeynmt.helpers_for_ddp import get_logger
    from joeynmt.prediction import predict, prepare

    torch.set_num_threads(job["threads"])
    patch_joey_sentencepiece()
    cfg = load_config(Path(job["config"]))
    get_logger("", log_file=str(Path(job["log"])))
    args = parse_global_args(cfg, rank=0, mode="test")
    model, _, _, test_data = prepare(args, rank=0, mode="test")
    speeds, words = {}, None

    def decode(beam):
        return predict(model=model, data=test_data, device=args.device, n_gpu=args.n_gpu, rank=0,
                       compute_loss=False, normalization=args.train.normalization, num_workers=0,
                       args=args.test._replace(beam_size=beam), autocast=args.autocast)

    for beam in job["beams"]:
        decode(beam)  # warm-up, as translation_speed does
        started = time.perf_counter()
        hypotheses = decode(beam)[2]
        speeds[str(beam)] = len(hypotheses) / (time.perf_counter() - started)
        if beam == 1:
            words = statistics.mean(len(h.split()) for h in hypotheses)
    return {"sentences_per_s": speeds, "mean_output_words": words, "sentences": len(test_data),
            "output_words_per_s": words * speeds["1"] if words is not None else None,
            "parameters": sum(p.numel() for p in model.parameters())}


WORKERS = {"ours-train": ours_train_worker, "ours-decode": ours_decode_worker,
           "joey-train": joey_train_worker, "joey-decode": joey_decode_worker}


def run_worker_here(name: str, job_file: str) -> int:
    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    started = time.perf_counter()
    result = WORKERS[name](job)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
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
        command = [str(python), str(Path(__file__).resolve()), "--worker", name, "--job", str(job_file)]
        code = subprocess.run(command, cwd=REPO if name.startswith("ours") else work, env=env, stdout=log,
                              stderr=subprocess.STDOUT).returncode
    print(f"{time.perf_counter() - started:.0f} s", flush=True)
    if code != 0 or not Path(job["result"]).is_file():
        tail = "\n".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise BenchError(f"worker {name} failed (exit {code}); last lines of {log_file}:\n{tail}")
    return json.loads(Path(job["result"]).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- one round, report

def run_round(index: int, arguments, setup: dict) -> dict:
    work, data, threads = setup["work"], setup["data"], arguments.threads
    ours_dir = work / f"ours_round{index}" / "model"
    result = {"ours_train": launch(sys.executable, "ours-train", {
        "config": str(arguments.config), "overrides": setup["our_overrides"], "spm": str(setup["spm"]),
        "steps": arguments.steps, "batch_sentences": ARCH["batch_sentences"], "export_dir": str(ours_dir),
        "threads": threads}, work, f"r{index}-ours-train")}
    result["ours_decode"] = launch(sys.executable, "ours-decode", {
        "model_dir": str(arguments.model or ours_dir), "source": str(data["test_source"]) + f".{SOURCE}",
        "beams": list(BEAMS), "threads": threads}, work, f"r{index}-ours-decode")
    joey_dir = work / f"joey_round{index}"
    train_cfg = joey_config(data, setup["spm"], setup["joey_vocab"], joey_dir, arguments.steps)
    config_file = write_yaml(train_cfg, work / f"joey_round{index}.yaml")
    result["joey_train"] = launch(setup["joey_python"], "joey-train", {"config": str(config_file),
                                  "threads": threads}, work, f"r{index}-joey-train")
    if arguments.joey_model:
        model_dir = Path(arguments.joey_model).resolve()
        decode_cfg = joey_decode_config(read_yaml(model_dir / "config.yaml"), model_dir, data, None)
    else:
        decode_cfg = joey_decode_config(train_cfg, joey_dir, data, Path(result["joey_train"]["checkpoint"]))
    decode_file = write_yaml(decode_cfg, work / f"joey_round{index}_decode.yaml")
    result["joey_decode"] = launch(setup["joey_python"], "joey-decode", {
        "config": str(decode_file), "beams": list(BEAMS), "threads": threads,
        "log": str(work / "logs" / f"r{index}-joey-decode.joey.log")}, work, f"r{index}-joey-decode")
    return result


FIGURES = [  # label, phase, key, format
    ("training target tokens/s (steady)", "train", "steady_tokens_per_s", "{:,.0f}"),
    ("training target tokens/s (all steps)", "train", "all_tokens_per_s", "{:,.0f}"),
    ("training seconds (all steps)", "train", "train_seconds", "{:,.1f}"),
    ("target tokens per step", "train", "tokens_per_step", "{:,.1f}"),
    ("target padding share", "train", "padding_share", "{:.1%}"),
    ("decoding sentences/s (greedy)", "decode", ("sentences_per_s", "1"), "{:,.1f}"),
    ("decoding sentences/s (beam 5)", "decode", ("sentences_per_s", "5"), "{:,.1f}"),
    ("mean greedy output length (words)", "decode", "mean_output_words", "{:,.1f}"),
    ("greedy output words/s", "decode", "output_words_per_s", "{:,.0f}"),
    ("peak RSS training (MiB)", "train", "peak_rss_mib", "{:,.0f}"),
    ("peak RSS decoding (MiB)", "decode", "peak_rss_mib", "{:,.0f}"),
    ("parameters (model trained here)", "train", "parameters", "{:,.0f}"),
]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def median_of(rounds: list[dict], side: str, phase: str, key) -> float | None:
    values = []
    for result in rounds:
        value = result[f"{side}_{phase}"]
        for part in (key if isinstance(key, tuple) else (key,)):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            values.append(value)
    return statistics.median(values) if values else None


def report(rounds: list[dict], arguments, setup: dict) -> None:
    rows = [("figure (median over rounds)", "seq2seq", "Joey NMT", "ratio")]
    for label, phase, key, form in FIGURES:
        ours, joey = (median_of(rounds, side, phase, key) for side in ("ours", "joey"))
        ratio = f"{ours / joey:.2f}" if ours is not None and joey else "n/a"
        rows.append((label, form.format(ours) if ours is not None else "n/a",
                     form.format(joey) if joey is not None else "n/a", ratio))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    print()
    for number, row in enumerate(rows):
        cells = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        print("  ".join([row[0].ljust(widths[0])] + cells))
        if number == 0:
            print("  ".join("-" * width for width in widths))
    first = rounds[0]
    ours_train, joey_train = first["ours_train"], first["joey_train"]
    log_figure = median_of(rounds, "joey", "train", "log_tokens_per_s")
    print(f"\nJoey's own log 'Tokens per Sec' (whole loop incl. on-the-fly tokenization and data loading): "
          f"{log_figure:,.0f}" if log_figure else "\nJoey's log had no 'Tokens per Sec' line")
    print(f"timed steps per round: seq2seq {[r['ours_train']['timed_steps'] for r in rounds]} "
          f"of {arguments.steps} "
          f"(first step of each bucket shape = graph tracing left out), Joey "
          f"{[r['joey_train']['timed_steps'] for r in rounds]} of {arguments.steps} (first step left out)")
    print(f"sentences per batch seen: seq2seq {ours_train['batch_sentences']}, "
          f"Joey {joey_train['batch_sentences']} "
          f"(64 unless a bucket/epoch ran out)")
    decoding = ("the trained models given (--model / --joey-model)" if arguments.model and arguments.joey_model
                else f"models trained for only {arguments.steps} steps in this run"
                + (" (seq2seq: --model)" if arguments.model else "")
                + (" (Joey: --joey-model)" if arguments.joey_model else "")
                + ": short or degenerate outputs distort decoding speed")
    print(f"decoding: {setup['data']['test_lines']} test sentences, batches of 64, warm-up pass untimed; "
          f"{decoding}")
    print(f"steps {arguments.steps}, rounds {arguments.rounds} (order per round: seq2seq then Joey), "
          f"{os.cpu_count()} CPUs ({cpu_name()})")
    print(f"threads: seq2seq {ours_train['threads']}; Joey {joey_train['threads']}")
    print(f"precision: seq2seq {'mixed bfloat16' if ours_train['mixed_precision'] else 'float32'}, Joey float32")
    print(f"vocabulary: {setup['spm']} ({setup['pieces']} pieces; Joey vocab file {setup['joey_vocab']})")
    ours_v, joey_v = setup["versions"]
    print("versions: seq2seq " + ", ".join(f"{k} {v}" for k, v in ours_v.items()))
    print("          Joey NMT " + ", ".join(f"{k} {v}" for k, v in joey_v.items()))
    print(f"work folder (configs, logs, models): {setup['work']}")


# --------------------------------------------------------------------------- main

def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--steps", type=int, default=300, help="training steps per toolkit and round (300)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each training both toolkits (2)")
    parser.add_argument("--test-lines", type=int, default=0,
                        help="decode the first N test sentences (default 0: all 1,000)")
    parser.add_argument("--spm", help="SentencePiece model for both sides and both languages (default: "
                                      "VOCAB_DIR/source.spm, built with `seq2seq build-vocab` if missing)")
    parser.add_argument("--vocab-dir", default="/tmp/bench_vocab",
                        help="where the default SentencePiece model is kept (as in translation_bench.py)")
    parser.add_argument("--model", help="our trained model directory, for the decoding figures")
    parser.add_argument("--joey-model", help="a trained Joey NMT model directory, for the decoding figures")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA), help=f"Multi30k .gz files ({DEFAULT_DATA})")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="our base config (architecture is pinned)")
    parser.add_argument("--work-dir", default="/tmp/joey_compare", help="configs, logs, models, plain data")
    parser.add_argument("--joey-venv", default=str(JOEY_VENV), help="Joey NMT virtual environment")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="intra-op threads of each side (default: all CPUs, %(default)s here)")
    parser.add_argument("--our-mixed-precision", action="store_true",
                        help="train ours in mixed bfloat16 (default float32, as Joey on CPU)")
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


def warn_if_busy() -> None:
    """Other processes distort every figure; torch's OpenMP threads suffer most when starved."""
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} before starting: other processes are running, so the "
              "figures will be distorted (run alone on the machine for real measurements)", flush=True)


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
    return {"work": work, "data": data, "spm": spm, "pieces": len(pieces),
            "joey_vocab": write_joey_vocab(pieces, work / "joey_vocab.txt"),
            "joey_python": Path(arguments.joey_venv) / "bin" / "python",
            "our_overrides": our_overrides(data, arguments.our_mixed_precision),
            "versions": (our_versions(), joey_versions)}


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
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
