"""Evaluation reports: `report.json` for machines, `report.md` and PNG figures for people, written atomically.

`report.json` follows the JSON Schema in `seq2seq/report_schema.json`
(`"schema": "seq2seq-evaluation-report/1"`); the README describes every field.
"""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq import __version__
from seq2seq.documents import json_text
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_directory

SCHEMA = "seq2seq-evaluation-report/1"
SCHEMA_FILE = Path(__file__).with_name("report_schema.json")
METRICS = (("bleu", "BLEU"), ("chrf", "chrF2"), ("ter", "TER"), ("bleu_lowercase", "BLEU (lowercased)"))


def build_report(
    scores: dict,
    data: dict,
    model: dict | None = None,
    decoding: dict | None = None,
    timing: dict | None = None,
    comparison: dict | None = None,
    analysis: dict | None = None,
    figures: list[str] | None = None,
) -> dict:
    return {
        "schema": SCHEMA,
        "toolkit": {"name": "seq2seq", "version": __version__},
        "scores": scores,
        "data": data,
        "model": model,
        "decoding": decoding,
        "timing": timing,
        "comparison": comparison,
        "analysis": analysis,
        "figures": list(figures or []),
    }


def _cell(text: str | None) -> str:
    return "" if text is None else text.replace("|", "\\|").replace("\n", " ")


def markdown(report: dict) -> str:
    scores, data = report["scores"], report["data"]
    bleu = scores["bleu"]
    if data.get("tfds"):
        origin = f"tfds `{data['tfds']}` split `{data['split']}`"
    else:
        origin = "references " + ", ".join(f"`{path}`" for path in data["references"])
    lines = [
        "# Evaluation report",
        "",
        f"{data['lines']} sentences; {origin}.",
        "",
        "| metric | score | sacrebleu signature |",
        "|---|---:|---|",
    ]
    for name, label in METRICS:
        lines.append(f"| {label} | {scores[name]['score']:.2f} | `{scores[name]['signature']}` |")
    lines += [
        "",
        "BLEU n-gram precisions "
        + " / ".join(f"{p:.1f}" for p in bleu["precisions"])
        + f"; brevity penalty {bleu['brevity_penalty']:.3f}; length ratio {bleu['length_ratio']:.3f} "
        f"({bleu['hypothesis_length']} / {bleu['reference_length']} tokens).",
    ]
    if report["model"]:
        lines += ["", f"Model `{report['model']['path']}` ({report['model']['parameters']:,} parameters)."]
    if report["decoding"]:
        lines += [f"Decoding: {json.dumps(report['decoding'])}."]
    if report["timing"]:
        lines += [f"Translation speed: {report['timing']['sentences_per_second']:.1f} sentences/s."]
    if report.get("comparison"):
        lines += [
            "",
            "Paired bootstrap resampling against the baseline (sacrebleu):",
            "",
            "| metric | baseline | system | p-value |",
            "|---|---:|---:|---:|",
        ]
        for name, label in (("bleu", "BLEU"), ("chrf", "chrF2")):
            entry = report["comparison"][name]
            lines.append(
                f"| {label} | {entry['baseline']['score']:.2f} ± {entry['baseline']['ci95']:.2f} | "
                f"{entry['system']['score']:.2f} ± {entry['system']['ci95']:.2f} | "
                f"{entry['system']['p_value']:.4f} |"
            )
    analysis = report.get("analysis")
    if analysis:
        lines += [
            "",
            f"## BLEU by length ({analysis['length_unit']})",
            "",
            "| length | sentences | BLEU |",
            "|---|---:|---:|",
        ]
        lines += [f"| {b['range']} | {b['sentences']} | {b['bleu']:.2f} |" for b in analysis["length_buckets"]]
        if "bleu_by_length.png" in report["figures"]:
            lines += ["", "![BLEU by length](bleu_by_length.png)"]
        for key, title in (("best", "Highest"), ("worst", "Lowest")):
            lines += [
                "",
                f"## {title} sentence chrF2",
                "",
                "| line | chrF2 | source | hypothesis | reference |",
                "|---:|---:|---|---|---|",
            ]
            lines += [
                f"| {e['line']} | {e['chrf']:.1f} | {_cell(e['source'])} | {_cell(e['hypothesis'])} | "
                f"{_cell(e['reference'])} |"
                for e in analysis[key]
            ]
    attention = [name for name in report["figures"] if name.startswith("attention_")]
    if attention:
        lines += ["", "## Attention", "", "Rows: output pieces; columns: source pieces; darker: more weight.", ""]
        lines += [f"![{name}]({name})" for name in attention]
    if "training_curves.png" in report["figures"]:
        lines += ["", "## Training curves", "", "![training curves](training_curves.png)"]
    return "\n".join(lines) + "\n"


def write_report(
    directory: str | Path,
    report: dict,
    overwrite: bool = False,
    figures: dict[str, bytes] | None = None,
    text: str | None = None,
) -> Path:
    """Writes `report.json`, `report.md` and the PNG `figures` into `directory`, complete or not at all.

    `text` is the Markdown of `report.md` (default: :func:`markdown` of a translation report).
    """
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise UserError(f"{directory}: exists; pass --overwrite to replace the report there.")
    with atomic_directory(directory) as temporary:
        (temporary / "report.json").write_text(json_text(report, indent=2) + "\n", encoding="utf-8")
        (temporary / "report.md").write_text(markdown(report) if text is None else text, encoding="utf-8")
        for name, png in (figures or {}).items():
            (temporary / name).write_bytes(png)
    return directory


def comparison_table(reports: list[tuple[str, dict]]) -> str:
    """A Markdown table with one column per `(name, report)`: scores, data, model, decoding, speed."""

    def row(label, cells):
        return f"| {label} | " + " | ".join(cells) + " |"

    def score(report, name):
        return f"{report['scores'][name]['score']:.2f}"

    def data(report):
        d = report["data"]
        return f"tfds {d['tfds']} {d['split']}" if d.get("tfds") else (d.get("source") or d.get("hypothesis") or "")

    def decoding(report):
        d = report["decoding"]
        if not d:
            return ""
        method = "greedy" if d["beam"] == 1 else f"beam {d['beam']}, alpha {d['alpha']}"
        return method + (f", {d['precision']}" if d.get("precision", "float32") != "float32" else "")

    lines = [row("", [f"`{name}`" for name, _ in reports]), row("---", ["---:"] * len(reports))]
    lines += [row(label, [score(r, name) for _, r in reports]) for name, label in METRICS]
    lines += [
        row("sentences", [str(r["data"]["lines"]) for _, r in reports]),
        row("data", [_cell(data(r)) for _, r in reports]),
        row("model", [_cell(r["model"]["path"]) if r["model"] else "" for _, r in reports]),
        row("parameters", [f"{r['model']['parameters']:,}" if r["model"] else "" for _, r in reports]),
        row("decoding", [decoding(r) for _, r in reports]),
        row("sentences/s", [f"{r['timing']['sentences_per_second']:.1f}" if r["timing"] else "" for _, r in reports]),
    ]
    signatures = {r["scores"]["bleu"]["signature"] for _, r in reports}
    note = "" if len(signatures) == 1 else "\nWarning: the BLEU signatures differ; the scores are not comparable.\n"
    return "\n".join(lines) + "\n" + note
