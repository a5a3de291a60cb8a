"""Print the translation experiments table (markdown) from finished runs and their test reports.

Usage:
    python bench/experiments_table.py \\
        --row "GRU + Bahdanau" runs/gru runs/reports/gru_beam1 runs/reports/gru_beam5 \\
        --row "no attention"  runs/none runs/reports/none_beam1 runs/reports/none_beam5

Each row names a run directory (written by `seq2seq train`: `history.csv`)
and two report folders written by `seq2seq evaluate --model RUN/model --report
DIR` with `--beam 1` and `--beam 5` (`-` where the model was not kept, printed
as "–"). Nothing is recomputed: validation figures come from the run's
`history.csv` (validation BLEU is greedy, measured after each epoch; the best
epoch is the one with the highest), test figures from the reports'
`report.json`. `--epochs N` reads only the first N epochs of every history,
for an equal-budget comparison of runs that went on longer. Training minutes
add up the timed training steps of those epochs (`train_seconds`, validation
excluded); tokens/s is their median.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path


def read_history(run_dir: Path) -> list[dict[str, float]]:
    """history.csv rows, one per epoch (the last row wins when a resumed run logged an epoch twice)."""
    by_epoch: dict[int, dict[str, float]] = {}
    with open(run_dir / "history.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            values = {key: float(value) for key, value in row.items() if value not in ("", "NA", None)}
            by_epoch[int(values["epoch"])] = values
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def test_scores(report_dir: Path) -> dict[str, float]:
    report = json.loads((report_dir / "report.json").read_text())
    scores = report["scores"]
    return {"bleu": scores["bleu"]["score"], "chrf": scores["chrf"]["score"],
            "bleu_lowercase": scores["bleu_lowercase"]["score"], "beam": report["decoding"]["beam"]}


def row_figures(label: str, run_dir: Path, greedy_report: str, beam_report: str,
                epochs: int | None) -> dict[str, object]:
    history = read_history(run_dir)[:epochs]
    bleu = [row["val_bleu"] for row in history]
    best_index = max(range(len(bleu)), key=bleu.__getitem__)
    missing = {"bleu": None, "chrf": None, "bleu_lowercase": None}
    greedy = missing if greedy_report == "-" else test_scores(Path(greedy_report))
    beam = missing if beam_report == "-" else test_scores(Path(beam_report))
    if greedy is not missing and greedy["beam"] != 1 or beam is not missing and beam["beam"] == 1:
        raise SystemExit(f"{label}: expected a greedy report then a beam report")
    return {
        "label": label, "epochs": len(history), "best_epoch": best_index + 1, "best_val_bleu": bleu[best_index],
        "curve": " ".join(f"{value:.1f}" for value in bleu),
        "minutes": sum(row.get("train_seconds", 0.0) for row in history) / 60,
        "tokens_per_second": statistics.median(row["tokens_per_second"] for row in history),
        "greedy": greedy["bleu"], "beam": beam["bleu"], "chrf": beam["chrf"],
        "beam_lowercase": beam["bleu_lowercase"],
    }


def cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--row", nargs=4, action="append", required=True,
                        metavar=("LABEL", "RUN_DIR", "GREEDY_REPORT", "BEAM5_REPORT"))
    parser.add_argument("--epochs", type=int, help="read only the first N epochs of each history")
    arguments = parser.parse_args(argv)
    rows = [row_figures(label, Path(run), greedy, beam, arguments.epochs)
            for label, run, greedy, beam in arguments.row]
    print("| model | epochs | best epoch (val BLEU, greedy) | val BLEU after each epoch "
          "| minutes of steps | target tokens/s | test BLEU greedy | test BLEU beam 5 | chrF2 beam 5 "
          "| lowercased BLEU beam 5 |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['label']} | {row['epochs']} | {row['best_epoch']} ({row['best_val_bleu']:.2f}) "
              f"| {row['curve']} | {row['minutes']:.1f} | {row['tokens_per_second']:,.0f} | {cell(row['greedy'])} "
              f"| {cell(row['beam'])} | {cell(row['chrf'])} | {cell(row['beam_lowercase'])} |")


if __name__ == "__main__":
    sys.exit(main())
