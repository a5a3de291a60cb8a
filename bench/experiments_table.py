"""Print the translation experiments table (markdown) from finished runs and their test reports.

Usage:
    python bench/experiments_table.py --epochs 8 \\
        --row "GRU + Bahdanau" runs/gru runs/reports/gru_beam1 runs/reports/gru_beam5 \\
        --row "no attention"  runs/none runs/reports/none_beam1 runs/reports/none_beam5

Each row names a run directory (written by `seq2seq train` with validation
BLEU on: its `history.csv`) and two report folders written by `seq2seq
evaluate --model RUN/model --report DIR` with `--beam 1` and with a beam
(`-` where the model was not kept, printed as "–"). Nothing is recomputed:
validation figures come from the run's `history.csv` (validation BLEU is
greedy, measured after each epoch; the best epoch is the one with the
highest), test figures and the parameter count from the reports'
`report.json`. `--epochs N` reads only the first N epochs of every history,
for an equal-budget comparison of runs that went on longer; the reports must
then be of the best model within those N epochs (nothing in a report says
which epoch it came from, so that is up to whoever evaluated it). Training
minutes add up the timed training steps of those epochs (`train_seconds`,
validation excluded); tokens/s is their median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from common import fail

from seq2seq.errors import UserError
from seq2seq.history import read_history


def run_history(run_dir: Path) -> list[dict[str, float]]:
    """The run's history.csv rows, one per epoch (`seq2seq.history.read_history`)."""
    path = run_dir / "history.csv"
    if not path.is_file():
        fail(f"{path} is missing; pass a run folder written by `seq2seq train`")
    try:
        return read_history(path)
    except UserError as error:
        fail(error)


def test_scores(report_dir: Path) -> dict[str, float]:
    path = report_dir / "report.json"
    if not path.is_file():
        fail(f"{path} is missing; pass a folder written by `seq2seq evaluate --model ... --report DIR`")
    report = json.loads(path.read_text())
    if not report.get("decoding") or not report.get("model"):
        fail(f"{path} scores a given hypothesis file; it needs a report of `evaluate --model`")
    scores = report["scores"]
    return {
        "bleu": scores["bleu"]["score"],
        "chrf": scores["chrf"]["score"],
        "bleu_lowercase": scores["bleu_lowercase"]["score"],
        "beam": report["decoding"]["beam"],
        "parameters": report["model"]["parameters"],
    }


def row_figures(
    label: str, run_dir: Path, greedy_report: str, beam_report: str, epochs: int | None
) -> dict[str, object]:
    history = run_history(run_dir)[:epochs]
    if not history or any("val_bleu" not in row for row in history):
        fail(
            f"{run_dir / 'history.csv'}: no validation BLEU for every epoch "
            f"(train with `training.validation_bleu: true`)"
        )
    bleu = [row["val_bleu"] for row in history]
    best_index = max(range(len(bleu)), key=bleu.__getitem__)
    missing = {"bleu": None, "chrf": None, "bleu_lowercase": None, "beam": None, "parameters": None}
    greedy = missing if greedy_report == "-" else test_scores(Path(greedy_report))
    beam = missing if beam_report == "-" else test_scores(Path(beam_report))
    if greedy is not missing and greedy["beam"] != 1:
        fail(
            f"{label}: {greedy_report} was decoded with beam {greedy['beam']}; the third argument is the greedy report"
        )
    if beam is not missing and beam["beam"] == 1:
        fail(f"{label}: {beam_report} is greedy; the fourth argument is the beam-search report")
    minutes = (
        sum(row["train_seconds"] for row in history) / 60 if all("train_seconds" in row for row in history) else None
    )
    speeds = [row["tokens_per_second"] for row in history if "tokens_per_second" in row]
    return {
        "label": label,
        "parameters": beam["parameters"] or greedy["parameters"],
        "epochs": len(history),
        "best_epoch": int(history[best_index]["epoch"]) + 1,
        "best_val_bleu": bleu[best_index],
        "curve": " ".join(f"{value:.1f}" for value in bleu),
        "minutes": minutes,
        "tokens_per_second": statistics.median(speeds) if speeds else None,
        "greedy": greedy["bleu"],
        "beam_size": beam["beam"],
        "beam": beam["bleu"],
        "chrf": beam["chrf"],
        "beam_lowercase": beam["bleu_lowercase"],
    }


def cell(value: float | None, form: str = "{:.2f}") -> str:
    return "–" if value is None else form.format(value)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--row", nargs=4, action="append", required=True, metavar=("LABEL", "RUN_DIR", "GREEDY_REPORT", "BEAM_REPORT")
    )
    parser.add_argument("--epochs", type=positive, help="read only the first N epochs of each history")
    arguments = parser.parse_args(argv)
    rows = [row_figures(label, Path(run), greedy, beam, arguments.epochs) for label, run, greedy, beam in arguments.row]
    beams = {row["beam_size"] for row in rows if row["beam_size"] is not None}
    beam_name = f"beam {beams.pop()}" if len(beams) == 1 else "beam (see reports)"
    print(
        f"| model | parameters | epochs | best epoch (val BLEU, greedy) | val BLEU after each epoch "
        f"| minutes of steps | target tokens/s | test BLEU greedy | test BLEU {beam_name} | chrF2 {beam_name} "
        f"| lowercased BLEU {beam_name} |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['label']} | {cell(row['parameters'], '{:,}')} | {row['epochs']} "
            f"| {row['best_epoch']} ({row['best_val_bleu']:.2f}) | {row['curve']} | {cell(row['minutes'], '{:.1f}')} "
            f"| {cell(row['tokens_per_second'], '{:,.0f}')} | {cell(row['greedy'])} | {cell(row['beam'])} "
            f"| {cell(row['chrf'])} | {cell(row['beam_lowercase'])} |"
        )


if __name__ == "__main__":
    sys.exit(main())
