"""The Joey NMT side of bench/joey_compare.py: its environment, configs and workers.

  - `ensure_joey_venv`: the virtual environment (torch CPU, joeynmt, pinned
    versions) the Joey workers run in, created if missing;
  - `write_joey_vocab`, `joey_config`, `joey_decode_config`, `write_yaml`,
    `read_yaml`: Joey's vocabulary file and its configs of the matched model;
  - `patch_joey_sentencepiece`: the SetVocabulary replacement joeynmt 2.3.0
    needs with the sentencepiece build of that environment;
  - `joey_train_worker`, `joey_decode_worker`: the phases joey_compare.py runs
    in the Joey environment (`--worker joey-train` / `joey-decode`).
Standard library only at import time (torch and joeynmt are imported by the
workers, PyYAML by the YAML helpers).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import BenchError, throughput
from compare_setup import ARCH, BEAM_ALPHA, OUR_SPECIALS, SOURCE, TARGET, decoding_figures

JOEY_VENV = Path("/tmp/joey_venv")
TORCH_PIN, JOEY_PIN = "2.13.0", "2.3.0"


# --------------------------------------------------------------------------- vocabulary and configs


def write_joey_vocab(pieces: list[str], path: Path) -> Path:
    """Joey's vocabulary file: the same pieces, specials first in Joey's fixed order unk, pad, bos, eos."""
    pad, unk, bos, eos = OUR_SPECIALS
    joey_order = [unk, pad, bos, eos] + [piece for piece in pieces if piece not in OUR_SPECIALS]
    path.write_text("\n".join(joey_order) + "\n", encoding="utf-8")
    return path


def joey_config(data: dict, spm: Path, vocab: Path, model_dir: Path, steps: int) -> dict:
    """The Joey NMT 2.3 config of the matched model (keys as read by joeynmt/config.py, model.py)."""
    a = ARCH
    side = {
        "level": "bpe",
        "lowercase": False,
        "normalize": False,
        "max_length": a["max_length"],
        "voc_file": str(vocab),
        "tokenizer_type": "sentencepiece",
        "tokenizer_cfg": {"model_file": str(spm)},
    }
    embeddings = {"embedding_dim": a["embedding_dim"], "scale": False, "dropout": a["dropout"]}
    return {
        "name": "joey_compare",
        "joeynmt_version": JOEY_PIN,
        "model_dir": str(model_dir),
        "use_cuda": False,
        "fp16": False,
        "random_seed": a["seed"],
        "data": {
            "train": str(data["train"]),
            "dev": str(data["val"]),
            "dataset_type": "plain",
            "src": {"lang": SOURCE, **side},
            "trg": {"lang": TARGET, **copy.deepcopy(side)},
            "special_symbols": {
                "unk_token": "<unk>",
                "unk_id": 0,
                "pad_token": "<pad>",
                "pad_id": 1,
                "bos_token": "<bos>",
                "bos_id": 2,
                "eos_token": "<eos>",
                "eos_id": 3,
            },
        },
        "training": {
            "optimizer": "adam",
            "adam_betas": [0.9, 0.999],
            "learning_rate": a["learning_rate"],
            # Joey 2.3.0 requires a scheduler (no `scheduling` raises) and its "plateau" passes
            # `verbose`, which torch 2.13 rejects: ExponentialLR with gamma 1.0 keeps lr constant.
            "scheduling": "exponential",
            "decrease_factor": 1.0,
            "loss": "crossentropy",
            "label_smoothing": a["label_smoothing"],
            "normalization": "tokens",
            "clip_grad_norm": a["clip_norm"],
            "batch_size": a["batch_sentences"],
            "batch_type": "sentence",
            "batch_multiplier": 1,
            "epochs": 1_000_000,
            "updates": steps,
            "logging_freq": steps,
            "validation_freq": 2 * steps,  # one log line at the end, no validation
            "early_stopping_metric": "ppl",
            "print_valid_sents": [],
            "shuffle": True,
            "keep_best_ckpts": 1,
            "overwrite": True,
            "num_workers": 0,
        },
        "testing": joey_testing(1),
        "model": {
            "initializer": "xavier_uniform",
            "embed_initializer": "xavier_uniform",
            "bias_initializer": "zeros",
            "tied_embeddings": False,
            "tied_softmax": False,
            "encoder": {
                "type": "recurrent",
                "rnn_type": "gru",
                "hidden_size": a["encoder_units"],
                "bidirectional": True,
                "num_layers": 1,
                "dropout": a["dropout"],
                "embeddings": embeddings,
            },
            "decoder": {
                "type": "recurrent",
                "rnn_type": "gru",
                "hidden_size": a["decoder_units"],
                "num_layers": 1,
                "attention": "bahdanau",
                "input_feeding": True,
                "init_hidden": "bridge",
                "dropout": a["dropout"],
                "hidden_dropout": a["dropout"],
                "embeddings": dict(embeddings),
            },
        },
    }


def joey_testing(beam: int) -> dict:
    return {
        "batch_size": ARCH["batch_sentences"],
        "batch_type": "sentence",
        "beam_size": beam,
        "beam_alpha": BEAM_ALPHA,
        "n_best": 1,
        "max_output_length": -1,
        "eval_metrics": [],
    }


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
        print(f"creating {venv} (torch {TORCH_PIN} CPU, joeynmt {JOEY_PIN}); this downloads packages...", flush=True)
        _run([sys.executable, "-m", "venv", str(venv)])
    versions = _joey_versions(python)
    if versions is None:
        pip = str(venv / "bin" / "pip")
        for command in (
            [pip, "install", f"torch=={TORCH_PIN}"],
            [pip, "install", f"joeynmt=={JOEY_PIN}", f"torch=={TORCH_PIN}"],
            [pip, "install", "importlib_metadata"],
        ):  # joeynmt needs it, does not declare it
            _run(command)
        versions = _joey_versions(python)
    if versions is None:
        raise BenchError(f"{venv}: joeynmt/torch still do not import; delete the folder and run again.")
    if versions["torch"].split("+")[0] != TORCH_PIN or versions["joeynmt"] != JOEY_PIN:
        raise BenchError(
            f"{venv} holds torch {versions['torch']} and joeynmt {versions['joeynmt']}, "
            f"not {TORCH_PIN} and {JOEY_PIN}; delete the folder and run again."
        )
    return versions


def _joey_versions(python: Path) -> dict | None:
    probe = (
        "import json, importlib.metadata as m, torch, joeynmt, importlib_metadata, sentencepiece, sys;"
        "print(json.dumps({p: m.version(p) for p in ('torch', 'joeynmt', 'sentencepiece')} | "
        "{'python': sys.version.split()[0]}))"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return json.loads(result.stdout) if result.returncode == 0 else None


def _run(command: list[str]) -> None:
    print("  $", " ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        raise BenchError(f"command failed: {' '.join(command)}")


# --------------------------------------------------------------------------- workers (run in the Joey environment)


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
        missing = [
            self.id_to_piece(i)
            for i in range(self.get_piece_size())
            if self.id_to_piece(i) not in allowed and not self.is_control(i)
        ]
        if missing:
            raise RuntimeError(
                f"Joey's vocabulary lacks {len(missing)} pieces of the SentencePiece model "
                f"(e.g. {missing[:5]}); this bench cannot restrict segmentation without "
                "SentencePieceProcessor.SetVocabulary."
            )

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
        steps.append(
            {
                "seconds": time.perf_counter() - started,
                "tokens": tokens,
                "positions": positions,
                "sentences": sentences,
                "timed": bool(steps),
            }
        )  # the first step is warm-up

    training.TrainManager._train_step = timed_train_step
    register_optimizer_step_post_hook(step_finished)
    training.train(rank=0, world_size=None, cfg=cfg, skip_test=True)
    log = (model_dir / "train.log").read_text(encoding="utf-8")
    logged = [float(value) for value in re.findall(r"Tokens per Sec:\s*([0-9.]+)", log)]
    return {
        **throughput(steps),
        "parameters": info.get("parameters"),
        "log_tokens_per_s": logged[-1] if logged else None,
        "checkpoint": str(model_dir / "latest.ckpt"),
        "sentencepiece": patched,
        "threads": f"torch intra-op {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}",
    }


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
        return predict(
            model=model,
            data=test_data,
            device=args.device,
            n_gpu=args.n_gpu,
            rank=0,
            compute_loss=False,
            normalization=args.train.normalization,
            num_workers=0,
            args=args.test._replace(beam_size=beam),
            autocast=args.autocast,
        )

    for beam in job["beams"]:
        decode(beam)  # warm-up, as translation_speed does
        started = time.perf_counter()
        hypotheses = decode(beam)[2]
        speeds[str(beam)] = len(hypotheses) / (time.perf_counter() - started)
        if beam == 1:
            words = statistics.mean(len(h.split()) for h in hypotheses)
    return {**decoding_figures(speeds, words, len(test_data)), "parameters": sum(p.numel() for p in model.parameters())}
