"""Hostile input, one table for every command (issue 11, item 9).

Each row runs one command in this process on files written for it. A row
expecting an error checks: exit status 2, exactly one line with `error:` on
stderr, no traceback, nothing on stdout, the previous `-o` output unchanged
and no partial file left. A row expecting success checks exit status 0 and
one output line per input line where the command promises it (`translate`,
`lm score`).

Placeholders in the arguments: `{mt}` a trained toy translator, `{lm}` a
trained toy language model, `{tmp}` the case's folder (its files come from
the row), `{out}` an output file that already holds a previous result.
"""

import gzip
import io
import sys
from pathlib import Path

import pytest

from seq2seq.cli import main

FSDD = Path(__file__).parents[2] / "shared" / "data" / "fsdd"

GOOD_DE = "ein hund läuft im park .\nzwei kinder spielen .\n".encode()
GOOD_EN = b"a dog runs in the park .\ntwo children play .\n"
LM_TEXT = b"the cat sat on the mat\n"


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def config(text: str) -> dict:
    """Files for a config case: `c.yaml` with `text`."""
    return {"c.yaml": text.encode()}


TRANSLATE, SCORE = ["translate", "--model", "{mt}", "--beam", "2"], ["lm", "score", "--model", "{lm}"]
EVALUATE = ["evaluate", "--hypothesis", "{tmp}/h.en", "--reference", "{tmp}/r.en"]
GENERATE = ["lm", "generate", "--model", "{lm}", "--max-tokens", "3"]

# (id, argv, files, expected): expected is ("error", fragment of the error line) or ("lines", output line count).
CASES = [
    # --- encodings and line separators: translate keeps one output line per input line
    ("translate invalid utf-8", TRANSLATE + ["{tmp}/in.de"], {"in.de": b"gut\n\xff\xfe kaputt\n"}, ("error", "line 2")),
    ("translate latin-1", TRANSLATE + ["{tmp}/in.de"], {"in.de": "Straße\n".encode("latin-1")}, ("error", "line 1")),
    (
        "translate utf-16",
        TRANSLATE + ["{tmp}/in.de"],
        {"in.de": "hallo\n".encode("utf-16")},
        ("error", "invalid UTF-8"),
    ),
    (
        "translate invalid utf-8 replaced",
        TRANSLATE + ["--errors", "replace", "{tmp}/in.de"],
        {"in.de": b"gut\n\xff kaputt\n"},
        ("lines", 2),
    ),
    ("translate utf-8 bom", TRANSLATE + ["{tmp}/in.de"], {"in.de": b"\xef\xbb\xbfein hund .\n"}, ("lines", 1)),
    ("translate crlf", TRANSLATE + ["{tmp}/in.de"], {"in.de": GOOD_DE.replace(b"\n", b"\r\n")}, ("lines", 2)),
    ("translate lone cr", TRANSLATE + ["{tmp}/in.de"], {"in.de": b"ein\rhund\n"}, ("lines", 1)),
    (
        "translate u2028 u2029 nel",
        TRANSLATE + ["{tmp}/in.de"],
        {"in.de": "ein\u2028hund\u2029läuft\x85 .\nzwei\n".encode()},
        ("lines", 2),
    ),
    ("translate form feed vertical tab", TRANSLATE + ["{tmp}/in.de"], {"in.de": b"ein\x0chund\x0b .\n"}, ("lines", 1)),
    ("translate nul bytes", TRANSLATE + ["{tmp}/in.de"], {"in.de": b"ein\x00hund\n\x00\n"}, ("lines", 2)),
    ("translate no final newline", TRANSLATE + ["{tmp}/in.de"], {"in.de": b"ein hund\nzwei"}, ("lines", 2)),
    ("translate empty file", TRANSLATE + ["{tmp}/in.de"], {"in.de": b""}, ("lines", 0)),
    ("translate only empty lines", TRANSLATE + ["{tmp}/in.de"], {"in.de": b"\n\n\n"}, ("lines", 3)),
    ("translate whitespace lines", TRANSLATE + ["{tmp}/in.de"], {"in.de": b" \t \n\xc2\xa0\n"}, ("lines", 2)),
    ("translate huge line", TRANSLATE + ["{tmp}/in.de"], {"in.de": ("hund " * 20000 + "\n").encode()}, ("lines", 1)),
    ("translate many lines", TRANSLATE + ["--beam", "1", "{tmp}/in.de"], {"in.de": GOOD_DE * 150}, ("lines", 300)),
    ("translate emoji and rtl", TRANSLATE + ["{tmp}/in.de"], {"in.de": "🐕 שלום ☃\n".encode()}, ("lines", 1)),
    (
        "translate combining marks",
        TRANSLATE + ["{tmp}/in.de"],
        {"in.de": "Stra\u0301sse\u0308\n".encode()},
        ("lines", 1),
    ),
    ("translate gzip", TRANSLATE + ["{tmp}/in.de.gz"], {"in.de.gz": gz(GOOD_DE)}, ("lines", 2)),
    (
        "translate truncated gzip",
        TRANSLATE + ["{tmp}/in.de.gz"],
        {"in.de.gz": gz(GOOD_DE * 50)[:40]},
        ("error", "in.de.gz"),
    ),
    ("translate not gzip", TRANSLATE + ["{tmp}/in.de.gz"], {"in.de.gz": GOOD_DE}, ("error", "in.de.gz")),
    ("translate missing input", TRANSLATE + ["{tmp}/nope.de"], {}, ("error", "nope.de: file not found")),
    ("translate input is a folder", TRANSLATE + ["{tmp}"], {}, ("error", "is a directory")),
    (
        "translate split sentences paragraph",
        TRANSLATE + ["--split-sentences", "{tmp}/in.de"],
        {"in.de": "Ein Hund läuft. Zwei Kinder spielen! Siehe https://x.de/a?b=1.\n\nDr. Müller kommt.\n".encode()},
        ("lines", 3),
    ),
    (
        "translate split sentences hostile",
        TRANSLATE + ["--split-sentences", "{tmp}/in.de"],
        {"in.de": "...\n!!!\n\u2028\n".encode() + b"a. " * 400 + b"\n"},
        ("lines", 4),
    ),
    ("translate n-best", TRANSLATE + ["--n-best", "2", "{tmp}/in.de"], {"in.de": GOOD_DE}, ("lines", 4)),
    # --- bad numbers and options
    ("translate beam 0", TRANSLATE + ["--beam", "0", "-"], {}, ("error", "--beam")),
    ("translate beam negative", TRANSLATE + ["--beam", "-3", "-"], {}, ("error", "--beam")),
    ("translate beam word", TRANSLATE + ["--beam", "five", "-"], {}, ("error", "--beam")),
    ("translate beam float", TRANSLATE + ["--beam", "2.5", "-"], {}, ("error", "--beam")),
    ("translate beam huge float", TRANSLATE + ["--beam", "1e400", "-"], {}, ("error", "--beam")),
    ("translate beam empty", TRANSLATE + ["--beam", "", "-"], {}, ("error", "--beam")),
    ("translate alpha nan", TRANSLATE + ["--alpha", "nan", "-"], {}, ("error", "--alpha")),
    ("translate alpha inf", TRANSLATE + ["--alpha", "-inf", "-"], {}, ("error", "--alpha")),
    ("translate ratio zero", TRANSLATE + ["--max-length-ratio", "0", "-"], {}, ("error", "--max-length-ratio")),
    ("translate ratio nan", TRANSLATE + ["--max-length-ratio", "nan", "-"], {}, ("error", "--max-length-ratio")),
    ("translate offset word", TRANSLATE + ["--max-length-offset", "ten", "-"], {}, ("error", "--max-length-offset")),
    (
        "translate offset negative",
        TRANSLATE + ["--max-length-offset", "-1000", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "--max-length-offset"),
    ),
    ("translate batch zero", TRANSLATE + ["--batch-size", "0", "-"], {}, ("error", "--batch-size")),
    ("translate max source zero", TRANSLATE + ["--max-source-tokens", "0", "-"], {}, ("error", "--max-source-tokens")),
    ("translate n-best zero", TRANSLATE + ["--n-best", "0", "-"], {}, ("error", "--n-best")),
    (
        "translate n-best over beam",
        TRANSLATE + ["--n-best", "5", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "--n-best"),
    ),
    ("translate temperature zero", TRANSLATE + ["--temperature", "0", "-"], {}, ("error", "--temperature")),
    ("translate temperature nan", TRANSLATE + ["--temperature", "nan", "-"], {}, ("error", "--temperature")),
    (
        "translate temperature with beam",
        TRANSLATE + ["--temperature", "0.5", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "--beam 1"),
    ),
    ("translate top-k zero", TRANSLATE + ["--top-k", "0", "-"], {}, ("error", "--top-k")),
    ("translate seed float", TRANSLATE + ["--seed", "1.5", "-"], {}, ("error", "--seed")),
    ("translate lm weight nan", TRANSLATE + ["--lm-weight", "nan", "-"], {}, ("error", "--lm-weight")),
    ("translate errors unknown", TRANSLATE + ["--errors", "ignore", "-"], {}, ("error", "--errors")),
    ("translate unknown option", TRANSLATE + ["--beem", "2", "-"], {}, ("error", "--beem")),
    # --- model folders
    (
        "translate missing model",
        ["translate", "--model", "{tmp}/none", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "none"),
    ),
    (
        "translate model is a file",
        ["translate", "--model", "{tmp}/in.de", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "in.de"),
    ),
    (
        "translate empty model folder",
        ["translate", "--model", "{tmp}/empty", "{tmp}/in.de"],
        {"in.de": GOOD_DE, "empty/.keep": b""},
        ("error", "empty"),
    ),
    (
        "translate language model given",
        ["translate", "--model", "{lm}", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "expected 'seq2seq-translation/1'"),
    ),
    (
        "translate fusion lm missing",
        TRANSLATE + ["--lm", "{tmp}/none", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "none"),
    ),
    (
        "translate fusion lm is a translator",
        TRANSLATE + ["--lm", "{mt}", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "expected 'seq2seq-language-model/1'"),
    ),
    # --- outputs
    (
        "translate output is a folder",
        TRANSLATE + ["{tmp}/in.de", "-o", "{tmp}"],
        {"in.de": GOOD_DE},
        ("error", "is a directory"),
    ),
    (
        "translate output under a file",
        TRANSLATE + ["{tmp}/in.de", "-o", "{tmp}/in.de/x"],
        {"in.de": GOOD_DE},
        ("error", "is a file, not a folder"),
    ),
    (
        "translate bad input keeps output",
        TRANSLATE + ["{tmp}/in.de", "-o", "{out}"],
        {"in.de": b"\xff\n"},
        ("error", "line 1"),
    ),
    ("translate to output file", TRANSLATE + ["{tmp}/in.de", "-o", "{out}"], {"in.de": GOOD_DE}, ("lines", 2)),
    ("translate stdin crlf", TRANSLATE + ["-"], {"<stdin>": GOOD_DE.replace(b"\n", b"\r\n")}, ("lines", 2)),
    ("translate stdin invalid", TRANSLATE + ["-"], {"<stdin>": b"\xc3\n"}, ("error", "<stdin>, line 1")),
    # --- lm score: one line per input line
    ("score invalid utf-8", SCORE + ["{tmp}/t.txt"], {"t.txt": b"ok\n\xe2\x82\n"}, ("error", "line 2")),
    ("score replace", SCORE + ["--errors", "replace", "{tmp}/t.txt"], {"t.txt": b"ok\n\xe2\x82\n"}, ("lines", 2)),
    ("score crlf", SCORE + ["{tmp}/t.txt"], {"t.txt": b"the cat\r\nthe mat\r\n"}, ("lines", 2)),
    ("score empty lines", SCORE + ["{tmp}/t.txt"], {"t.txt": b"\n\nthe cat\n"}, ("lines", 3)),
    ("score empty file", SCORE + ["{tmp}/t.txt"], {"t.txt": b""}, ("lines", 0)),
    ("score unknown words", SCORE + ["{tmp}/t.txt"], {"t.txt": "zebra ☃ 🐕\n".encode()}, ("lines", 1)),
    ("score huge line", SCORE + ["{tmp}/t.txt"], {"t.txt": b"the cat " * 20000 + b"\n"}, ("lines", 1)),
    ("score u2028", SCORE + ["{tmp}/t.txt"], {"t.txt": "the\u2028cat\n".encode()}, ("lines", 1)),
    ("score gzip", SCORE + ["{tmp}/t.txt.gz"], {"t.txt.gz": gz(LM_TEXT)}, ("lines", 1)),
    ("score truncated gzip", SCORE + ["{tmp}/t.txt.gz"], {"t.txt.gz": gz(LM_TEXT * 99)[:30]}, ("error", "t.txt.gz")),
    ("score batch zero", SCORE + ["--batch-size", "0", "{tmp}/t.txt"], {"t.txt": LM_TEXT}, ("error", "--batch-size")),
    ("score lm weight inf", SCORE + ["--rerank", "--lm-weight", "inf", "-"], {}, ("error", "--lm-weight")),
    ("score rerank not n-best", SCORE + ["--rerank", "{tmp}/t.txt"], {"t.txt": LM_TEXT}, ("error", "t.txt")),
    (
        "score rerank bad score",
        SCORE + ["--rerank", "{tmp}/t.txt"],
        {"t.txt": b"0 ||| the cat ||| x\n"},
        ("error", "t.txt"),
    ),
    ("score missing model", ["lm", "score", "--model", "{tmp}/none", "-"], {}, ("error", "none")),
    ("score translator given", ["lm", "score", "--model", "{mt}", "-"], {}, ("error", "expected 'seq2seq-language")),
    ("score output folder", SCORE + ["{tmp}/t.txt", "-o", "{tmp}"], {"t.txt": LM_TEXT}, ("error", "is a directory")),
    ("score bad input keeps output", SCORE + ["{tmp}/t.txt", "-o", "{out}"], {"t.txt": b"\xff\n"}, ("error", "line 1")),
    # --- lm generate
    ("generate max tokens zero", GENERATE[:-1] + ["0"], {}, ("error", "--max-tokens")),
    ("generate temperature inf", GENERATE + ["--temperature", "inf"], {}, ("error", "--temperature")),
    ("generate temperature negative", GENERATE + ["--temperature", "-1"], {}, ("error", "--temperature")),
    ("generate top-k negative", GENERATE + ["--top-k", "-2"], {}, ("error", "--top-k")),
    ("generate samples zero", GENERATE + ["--num-samples", "0"], {}, ("error", "--num-samples")),
    ("generate seed word", GENERATE + ["--seed", "abc"], {}, ("error", "--seed")),
    ("generate unknown prompt words", GENERATE + ["--prompt", "☃ zebra\u2028"], {}, ("lines", 1)),
    ("generate huge prompt", GENERATE + ["--prompt", "the cat " * 3000], {}, ("lines", 1)),
    ("generate translator given", ["lm", "generate", "--model", "{mt}"], {}, ("error", "expected 'seq2seq-language")),
    # --- evaluate and compare
    ("evaluate line counts differ", EVALUATE, {"h.en": GOOD_EN, "r.en": GOOD_EN[:20] + b"\n"}, ("error", "lines")),
    ("evaluate invalid utf-8 reference", EVALUATE, {"h.en": GOOD_EN, "r.en": b"a\n\xff\n"}, ("error", "r.en, line 2")),
    ("evaluate missing reference", EVALUATE, {"h.en": GOOD_EN}, ("error", "r.en")),
    ("evaluate empty files", EVALUATE, {"h.en": b"", "r.en": b""}, ("error", "empty")),
    (
        "evaluate nothing to score",
        ["evaluate", "--reference", "{tmp}/r.en"],
        {"r.en": GOOD_EN},
        ("error", "--hypothesis"),
    ),
    (
        "evaluate both hypothesis and model",
        EVALUATE + ["--model", "{mt}"],
        {"h.en": GOOD_EN, "r.en": GOOD_EN},
        ("error", "--hypothesis"),
    ),
    (
        "evaluate model without source",
        ["evaluate", "--model", "{mt}", "--reference", "{tmp}/r.en"],
        {"r.en": GOOD_EN},
        ("error", "--source"),
    ),
    (
        "evaluate bootstrap zero",
        EVALUATE + ["--bootstrap-samples", "0"],
        {"h.en": GOOD_EN, "r.en": GOOD_EN},
        ("error", "--bootstrap-samples"),
    ),
    (
        "evaluate baseline length differs",
        EVALUATE + ["--baseline", "{tmp}/b.en"],
        {"h.en": GOOD_EN, "r.en": GOOD_EN, "b.en": b"one\n"},
        ("error", "b.en"),
    ),
    (
        "evaluate report is a file",
        EVALUATE + ["--report", "{tmp}/h.en"],
        {"h.en": GOOD_EN, "r.en": GOOD_EN},
        ("error", "h.en"),
    ),
    (
        "evaluate report over a stranger",
        EVALUATE + ["--report", "{tmp}/mine", "--overwrite"],
        {"h.en": GOOD_EN, "r.en": GOOD_EN, "mine/notes.txt": b"precious\n"},
        ("error", "--overwrite"),
    ),
    (
        "evaluate report over the current folder",
        EVALUATE + ["--report", ".", "--overwrite"],
        {"h.en": GOOD_EN, "r.en": GOOD_EN},
        ("error", "--overwrite"),
    ),
    (
        "evaluate model damaged source",
        ["evaluate", "--model", "{mt}", "--source", "{tmp}/s.de", "--reference", "{tmp}/r.en"],
        {"s.de": b"\xff\xff\n", "r.en": b"x\n"},
        ("error", "s.de"),
    ),
    (
        "evaluate tfds not prepared",
        ["evaluate", "--model", "{mt}", "--tfds", "no_such_dataset/de-en", "--tfds-data-dir", "{tmp}"],
        {},
        ("error", "no_such_dataset"),
    ),
    ("evaluate crlf hypothesis", EVALUATE, {"h.en": GOOD_EN.replace(b"\n", b"\r\n"), "r.en": GOOD_EN}, ("lines", -1)),
    ("compare missing report", ["compare", "{tmp}/none.json"], {}, ("error", "none.json")),
    ("compare garbage json", ["compare", "{tmp}/r.json"], {"r.json": b"{not json"}, ("error", "r.json")),
    ("compare json of another kind", ["compare", "{tmp}/r.json"], {"r.json": b"[1, 2, 3]\n"}, ("error", "r.json")),
    ("compare empty file", ["compare", "{tmp}/r.json"], {"r.json": b""}, ("error", "r.json")),
    ("compare folder without report", ["compare", "{tmp}/d"], {"d/x.txt": b"x\n"}, ("error", "d")),
    # --- configs: train, lm train, build-vocab (all refused before any work)
    ("train missing config", ["train", "{tmp}/none.yaml"], {}, ("error", "none.yaml")),
    ("train config is a folder", ["train", "{tmp}"], {}, ("error", "is a directory")),
    ("train empty config", ["train", "{tmp}/c.yaml"], config(""), ("error", "multi30k/train.de: file not found")),
    ("train config is a list", ["train", "{tmp}/c.yaml"], config("- a\n- b\n"), ("error", "c.yaml")),
    ("train bad yaml", ["train", "{tmp}/c.yaml"], config("model: {embedding_dim: 4\n"), ("error", "c.yaml")),
    (
        "train python tag",
        ["train", "{tmp}/c.yaml"],
        config("run_dir: !!python/object/apply:os.system ['touch {tmp}/pwned']\n"),
        ("error", "c.yaml"),
    ),
    ("train unknown key", ["train", "{tmp}/c.yaml"], config("modle: {}\n"), ("error", "modle")),
    (
        "train wrong type",
        ["train", "{tmp}/c.yaml"],
        config("model: {embedding_dim: many}\n"),
        ("error", "embedding_dim"),
    ),
    (
        "train nan learning rate",
        ["train", "{tmp}/c.yaml"],
        config("training: {learning_rate: .nan}\n"),
        ("error", "learning_rate"),
    ),
    ("train negative dropout", ["train", "{tmp}/c.yaml"], config("model: {dropout: -0.5}\n"), ("error", "dropout")),
    ("train dropout one", ["train", "{tmp}/c.yaml"], config("model: {dropout: 1.0}\n"), ("error", "dropout")),
    (
        "train unsorted buckets",
        ["train", "{tmp}/c.yaml"],
        config("training: {bucket_boundaries: [30, 10]}\n"),
        ("error", "bucket_boundaries"),
    ),
    ("train empty run_dir", ["train", "{tmp}/c.yaml"], config("run_dir: ''\n"), ("error", "run_dir")),
    (
        "train utf-16 config",
        ["train", "{tmp}/c.yaml"],
        {"c.yaml": "run_dir: x\n".encode("utf-16")},
        ("error", "c.yaml"),
    ),
    ("train binary config", ["train", "{tmp}/c.yaml"], {"c.yaml": bytes(range(256))}, ("error", "c.yaml")),
    (
        "train set without equals",
        ["train", "{tmp}/c.yaml", "--set", "training.epochs"],
        config("{}\n"),
        ("error", "--set"),
    ),
    (
        "train set unknown key",
        ["train", "{tmp}/c.yaml", "--set", "training.epoch=3"],
        config("{}\n"),
        ("error", "training.epoch"),
    ),
    (
        "train set bad value",
        ["train", "{tmp}/c.yaml", "--set", "training.epochs=[1"],
        config("{}\n"),
        ("error", "training.epochs"),
    ),
    (
        "train set inf epochs",
        ["train", "{tmp}/c.yaml", "--set", "training.epochs=.inf"],
        config("{}\n"),
        ("error", "training.epochs"),
    ),
    (
        "train missing corpus",
        ["train", "{tmp}/c.yaml"],
        config("data: {dir: {tmp}, train: [{prefix: nope}], valid: [{prefix: nope}]}\nrun_dir: {tmp}/run\n"),
        ("error", "nope"),
    ),
    (
        "train negative weight",
        ["train", "{tmp}/c.yaml"],
        config("data: {train: [{prefix: a, weight: -1}]}\n"),
        ("error", "weight"),
    ),
    ("lm train empty config", ["lm", "train", "{tmp}/c.yaml"], config(""), ("error", "c.yaml")),
    ("lm train unknown level", ["lm", "train", "{tmp}/c.yaml"], config("data: {level: byte}\n"), ("error", "level")),
    (
        "lm train nan lr",
        ["lm", "train", "{tmp}/c.yaml"],
        config("training: {learning_rate: .inf}\n"),
        ("error", "learning_rate"),
    ),
    (
        "lm train empty corpus",
        ["lm", "train", "{tmp}/c.yaml"],
        {"c.yaml": b"data: {dir: {tmp}, train: t.txt, valid_fraction: 0.5}\nrun_dir: {tmp}/run\n", "t.txt": b""},
        ("error", "empty"),
    ),
    (
        "lm train invalid utf-8 corpus",
        ["lm", "train", "{tmp}/c.yaml"],
        {
            "c.yaml": b"data: {dir: {tmp}, train: t.txt, valid_fraction: 0.5}\nrun_dir: {tmp}/run\n",
            "t.txt": b"ok\n\xff\n",
        },
        ("error", "t.txt, line 2"),
    ),
    (
        "build-vocab missing corpus",
        ["build-vocab", "{tmp}/c.yaml"],
        config("data: {dir: {tmp}, train: [{prefix: nope}], valid: []}\nrun_dir: {tmp}/run\n"),
        ("error", "nope"),
    ),
    ("build-vocab tiny size", ["build-vocab", "{tmp}/c.yaml"], config("vocabulary: {size: 2}\n"), ("error", "size")),
    # --- average-checkpoints
    ("average missing run", ["average-checkpoints", "{tmp}/none", "-o", "{tmp}/avg"], {}, ("error", "none")),
    ("average last zero", ["average-checkpoints", "{tmp}", "--last", "0", "-o", "{tmp}/avg"], {}, ("error", "--last")),
    (
        "average output over a stranger",
        ["average-checkpoints", "{tmp}/none", "-o", "{tmp}/d", "--overwrite"],
        {"d/corpus.txt": b"precious\n"},
        ("error", "d"),
    ),
    (
        "average storage unknown",
        ["average-checkpoints", "{tmp}", "-o", "{tmp}/a", "--storage-dtype", "int8"],
        {},
        ("error", "--storage-dtype"),
    ),
    # --- shortlist (the command writes into --model, so these rows all stop before writing)
    (
        "shortlist missing source",
        ["shortlist", "--model", "{mt}", "--source", "{tmp}/none.de", "--target", "{tmp}/none.en"],
        {},
        ("error", "none.de"),
    ),
    (
        "shortlist sides of different lengths",
        ["shortlist", "--model", "{mt}", "--source", "{tmp}/a.de", "--target", "{tmp}/a.en"],
        {"a.de": b"ein Hund\neine Katze\n", "a.en": b"a dog\n"},
        ("error", "after line 1"),
    ),
    (
        "shortlist invalid utf-8",
        ["shortlist", "--model", "{mt}", "--source", "{tmp}/a.de", "--target", "{tmp}/a.en"],
        {"a.de": b"ein Hund\n\xff\n", "a.en": b"a dog\na cat\n"},
        ("error", "a.de, line 2"),
    ),
    (
        "shortlist per-source zero",
        ["shortlist", "--model", "{mt}", "--source", "{tmp}/a.de", "--target", "{tmp}/a.en", "--per-source", "0"],
        {},
        ("error", "--per-source"),
    ),
    (
        "shortlist of a language model",
        ["shortlist", "--model", "{lm}", "--source", "{tmp}/a.de", "--target", "{tmp}/a.en"],
        {},
        ("error", "expected 'seq2seq-translation"),
    ),
    (
        "translate shortlist missing",
        TRANSLATE + ["--shortlist", "{tmp}/in.de"],
        {"in.de": GOOD_DE},
        ("error", "shortlist.npz: not found"),
    ),
    # --- speech recognition and captioning (issue 14): configs, models of another kind, bad files
    (
        "perception train task and input disagree",
        ["perception", "train", "{tmp}/c.yaml"],
        config("data: {task: speech}\nmodel: {encoder: {input: image}}\n"),
        ("error", "set model.encoder.input: audio"),
    ),
    (
        "perception train tokens for captions",
        ["perception", "train", "{tmp}/c.yaml"],
        config("data: {task: captions}\n"),
        ("error", "set model.encoder.input: image"),
    ),
    (
        "perception train no recordings",
        ["perception", "train", "{tmp}/c.yaml"],
        config("data: {task: speech, dir: nowhere}\nmodel: {encoder: {input: audio}}\n"),
        ("error", "no FSDD recordings"),
    ),
    (
        "perception train unknown speaker",
        ["perception", "train", "{tmp}/c.yaml"],
        config(f"data: {{task: speech, dir: {FSDD}, test_speaker: bob}}\nmodel: {{encoder: {{input: audio}}}}\n"),
        ("error", "not an FSDD speaker"),
    ),
    (
        "perception train frame_stack on images",
        ["perception", "train", "{tmp}/c.yaml"],
        config("data: {task: captions}\nmodel: {encoder: {input: image, frame_stack: 3}}\n"),
        ("error", "frame_stack` applies to input: audio only"),
    ),
    (
        "perception train distributed",
        ["perception", "train", "{tmp}/c.yaml"],
        config(
            "data: {task: captions, train_examples: 4}\nmodel: {encoder: {input: image}}\n"
            "training: {distribute: mirrored}\n"
        ),
        ("error", "runs on one device"),
    ),
    (
        "train an audio encoder as a translator",
        ["train", "{tmp}/c.yaml"],
        config("model: {encoder: {input: audio, frame_stack: 2}}\n"),
        ("error", "seq2seq perception train"),
    ),
    (
        "train a perception config",
        ["train", "{tmp}/c.yaml"],
        config("data: {task: speech}\n"),
        ("error", "unknown key `data.task`"),
    ),
    (
        "perception evaluate a translator",
        ["perception", "evaluate", "--model", "{mt}"],
        {},
        ("error", "expected 'seq2seq-perception/1'"),
    ),
    (
        "transcribe a translator",
        ["transcribe", "--model", "{mt}", "{tmp}/a.wav"],
        {"a.wav": b"RIFF"},
        ("error", "expected 'seq2seq-perception/1'"),
    ),
    (
        "caption with a language model",
        ["caption", "--model", "{lm}", "{tmp}/a.png"],
        {"a.png": b"PNG"},
        ("error", "expected 'seq2seq-perception/1'"),
    ),
    ("transcribe no model", ["transcribe", "--model", "{tmp}/none", "{tmp}/a.wav"], {}, ("error", "not found")),
    ("caption no files", ["caption", "--model", "{mt}"], {}, ("error", "required: FILE")),
]


def run_case(argv, files, tmp_path, mt, lm, monkeypatch, capsys):
    """Writes the row's files, runs the command; returns (status, stdout, stderr, the `{out}` file)."""
    out = tmp_path / "previous.out"
    out.write_text("a previous result\n")
    values = {"mt": str(mt), "lm": str(lm), "tmp": str(tmp_path), "out": str(out)}
    stdin = b""
    for name, data in files.items():
        if name == "<stdin>":
            stdin = data
            continue
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.replace(b"{tmp}", str(tmp_path).encode()))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    try:
        status = main([item.format(**values) for item in argv])
    except SystemExit as stop:  # argparse refusing an option
        status = stop.code
    stdout, stderr = capsys.readouterr()
    return status, stdout, stderr, out


@pytest.mark.parametrize("argv,files,expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_input(argv, files, expected, toy_translation_dir, trained_lm_dir, tmp_path, monkeypatch, capsys):
    before = {path for path in tmp_path.rglob("*")}
    status, stdout, stderr, out = run_case(
        argv, files, tmp_path, toy_translation_dir, trained_lm_dir, monkeypatch, capsys
    )
    kind, detail = expected
    assert "Traceback" not in stderr
    if kind == "error":
        assert status == 2, stderr
        lines = [line for line in stderr.splitlines() if "error:" in line]
        assert len(lines) == 1 and detail in lines[0], stderr
        assert stdout == ""
        assert out.read_text() == "a previous result\n"  # nothing lost
        assert not (tmp_path / "pwned").exists()  # no code from a config ran
        partial = [path for path in tmp_path.rglob(".*") if path not in before and path.name not in (".keep", ".lock")]
        assert partial == []
        return
    assert status == 0, stderr
    written = out.read_text() if "{out}" in argv else stdout
    if argv[:2] == ["lm", "score"]:  # a header, one numbered row per input line, then the corpus total
        assert sum(line.split("\t")[0].isdigit() for line in written.splitlines()) == detail, written
    elif detail >= 0:
        assert written.count("\n") == detail, written


def test_the_table_covers_every_command_with_a_hundred_cases():
    commands = {" ".join(argv[:2]) if argv[0] in ("lm", "perception") else argv[0] for _, argv, _, _ in CASES}
    assert commands == {
        "translate",
        "evaluate",
        "compare",
        "train",
        "build-vocab",
        "average-checkpoints",
        "shortlist",
        "lm score",
        "lm generate",
        "lm train",
        "perception train",
        "perception evaluate",
        "transcribe",
        "caption",
    }
    assert len(CASES) >= 100
