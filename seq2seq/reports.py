"""Evaluation reports: `report.json` for machines, `report.md` for people, written atomically.

`report.json` schema (`"schema": "seq2seq-evaluation-report/1"`):

- `toolkit`: {"name", "version"}
- `scores`: {"bleu": {"score", "signature", "precisions", "brevity_penalty",
  "length_ratio", "hypothesis_length", "reference_length"},
  "bleu_lowercase": {"score", "signature", "note"}, "chrf": {"score", "signature"},
  "ter": {"score", "signature"}}
- `data`: {"hypothesis" (path or null), "source" (path or null),
  "references" [paths], "lines", "baseline" (path or null)}
- `model`: null, or {"path", "config_sha256", "parameters"}
- `decoding`: null, or {"beam", "alpha", "max_length_ratio", "max_length_offset"}
- `timing`: null, or {"seconds", "sentences_per_second"}
- `comparison`: null, or (with `--baseline`) per metric "bleu" and "chrf":
  {"signature", "baseline": {"score", "mean", "ci95"},
  "system": {"score", "mean", "ci95", "p_value"}} from sacrebleu's paired bootstrap
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from seq2seq import __version__
from seq2seq.errors import UserError

SCHEMA = "seq2seq-evaluation-report/1"


def build_report(scores: dict, data: dict, model: dict | None = None, decoding: dict | None = None,
                 timing: dict | None = None, comparison: dict | None = None) -> dict:
    return {"schema": SCHEMA, "toolkit": {"name": "seq2seq", "version": __version__}, "scores": scores,
            "data": data, "model": model, "decoding": decoding, "timing": timing, "comparison": comparison}


def markdown(report: dict) -> str:
    scores = report["scores"]
    bleu = scores["bleu"]
    lines = ["# Evaluation report", "",
             f"{report['data']['lines']} sentences; references: "
             + ", ".join(f"`{path}`" for path in report["data"]["references"]), "",
             "| metric | score | sacrebleu signature |", "|---|---:|---|"]
    for name, label in (("bleu", "BLEU"), ("chrf", "chrF2"), ("ter", "TER"),
                        ("bleu_lowercase", "BLEU (lowercased)")):
        lines.append(f"| {label} | {scores[name]['score']:.2f} | `{scores[name]['signature']}` |")
    lines += ["", "BLEU n-gram precisions " + " / ".join(f"{p:.1f}" for p in bleu["precisions"])
              + f"; brevity penalty {bleu['brevity_penalty']:.3f}; length ratio {bleu['length_ratio']:.3f} "
              f"({bleu['hypothesis_length']} / {bleu['reference_length']} tokens)."]
    if report["model"]:
        lines += ["", f"Model `{report['model']['path']}` ({report['model']['parameters']:,} parameters)."]
    if report["decoding"]:
        lines += [f"Decoding: {json.dumps(report['decoding'])}."]
    if report.get("comparison"):
        lines += ["", "Paired bootstrap resampling against the baseline (sacrebleu):", "",
                  "| metric | baseline | system | p-value |", "|---|---:|---:|---:|"]
        for name, label in (("bleu", "BLEU"), ("chrf", "chrF2")):
            entry = report["comparison"][name]
            lines.append(f"| {label} | {entry['baseline']['score']:.2f} ± {entry['baseline']['ci95']:.2f} | "
                         f"{entry['system']['score']:.2f} ± {entry['system']['ci95']:.2f} | "
                         f"{entry['system']['p_value']:.4f} |")
    if report["timing"]:
        lines += [f"Translation speed: {report['timing']['sentences_per_second']:.1f} sentences/s."]
    return "\n".join(lines) + "\n"


def write_report(directory: str | Path, report: dict, overwrite: bool = False) -> Path:
    """Writes `report.json` and `report.md` into `directory`, complete or not at all."""
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise UserError(f"{directory}: exists; pass --overwrite to replace the report there.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    os.chmod(temporary, 0o755)
    try:
        (temporary / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (temporary / "report.md").write_text(markdown(report), encoding="utf-8")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(temporary, directory)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return directory
