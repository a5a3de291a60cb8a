"""What both sides of bench/joey_compare.py share: the matched settings and the data.

  - the matched architecture and training settings (`ARCH`), languages,
    splits, beams and length penalty;
  - Multi30k decompressed to plain text files that both toolkits read
    (`prepare_data`);
  - the joint SentencePiece model both sides use (`resolve_spm`,
    `spm_pieces`) and the `--set` overrides that point our config at the
    plain files (`data_overrides`);
  - the decoding figures each side's decode worker returns
    (`decoding_figures`).
Standard library only at import time: the Joey NMT workers import it too.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

from common import REPO, BenchError

DEFAULT_DATA = Path("/work/shared/data/multi30k")
DEFAULT_CONFIG = REPO / "configs" / "multi30k_de_en_gru_bahdanau.yaml"
SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}
SOURCE, TARGET = "de", "en"
BEAMS = (1, 5)
BEAM_ALPHA = 0.6  # ours: Translator's default length penalty; Joey: testing.beam_alpha
ARCH = {
    "embedding_dim": 256,
    "encoder_units": 256,
    "decoder_units": 512,
    "attention_units": 512,
    "dropout": 0.3,
    "learning_rate": 0.001,
    "clip_norm": 1.0,
    "label_smoothing": 0.1,
    "batch_sentences": 64,
    "max_length": 100,
    "seed": 1234,
}
OUR_SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")  # ids 0..3, seq2seq.core.subwords


# --------------------------------------------------------------------------- data


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
    return {
        "dir": out,
        "train": out / "train",
        "val": out / "val",
        "test_source": source_only / "test",
        "test_lines": len(lines),
    }


def _decompress(source: Path, target: Path) -> int:
    """Writes `source` (.gz) as plain UTF-8 text to `target` unless done before; returns the line count."""
    if not source.is_file():
        raise BenchError(
            f"{source}: Multi30k file not found (--data-dir points at the folder holding "
            f"{', '.join(f'{s}.{SOURCE}.gz' for s in SPLITS.values())} and the .{TARGET}.gz files)."
        )
    if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            text = handle.read()
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    with target.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def data_overrides(data: dict) -> list[str]:
    """`--set` overrides that point our config at the plain files of `prepare_data`."""
    return [
        f"data.dir={data['dir']}",
        "data.train=[{prefix: train}]",
        "data.valid=[{prefix: val}]",
        "data.test=[{prefix: test}]",
        f"data.source_language={SOURCE}",
        f"data.target_language={TARGET}",
    ]


# --------------------------------------------------------------------------- vocabulary


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
    command = [
        sys.executable,
        "-m",
        "seq2seq",
        "build-vocab",
        str(arguments.config),
        *(f"--set={item}" for item in data_overrides(data)),
        f"--set=run_dir={vocab_dir}",
    ]
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
        raise BenchError(
            f"{path}: pieces 0-3 are {pieces[:4]}, not {list(OUR_SPECIALS)}; "
            "use a model made by `seq2seq build-vocab` (or `seq2seq train`)."
        )
    return pieces


# --------------------------------------------------------------------------- worker results


def decoding_figures(speeds: dict[str, float], words: float | None, sentences: int) -> dict:
    """A decode worker's result: sentences/s per beam (keys "1", "5"), mean greedy output words, words/s."""
    return {
        "sentences_per_s": speeds,
        "mean_output_words": words,
        "sentences": sentences,
        "output_words_per_s": words * speeds["1"] if words is not None and "1" in speeds else None,
    }
