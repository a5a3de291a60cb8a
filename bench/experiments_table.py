"""Print the translation experiments table (markdown) from finished runs and their test reports.

Usage:
    python bench/experiments_table.py \\
        --row "GRU + Bahdanau" runs/gru runs/reports/gru_beam1 runs/reports/gru_beam5 \\
        --row "no attention"  runs/none runs/reports/none_beam1 runs/reports/none_beam5

Each row names a run directory (written by `seq2seq train`: `history.csv`,
`best.json`, `model/`) and two report folders written by `seq2seq evaluate
--model RUN/model --report DIR` with `--beam 1` and `--beam 5`. Nothing is
recomputed: validation figures come from the run's `history.csv` (validation
BLEU is greedy, measured after each epoch), test figures from the reports'
`report.json`. Training minutes add up the timed training steps of every epoch
(`train_seconds`, validation excluded); tokens/s is the median over epochs.
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
            "bleu_lowercase": scores["bleu_lowercase"]["score"], "beam": report["decoding"]["beam"],
            "parameters": report["model"]["parameters"]}


def row_figures(label: str, run_dir: Path, greedy_report: Path, beam_report: Path) -> dict[str, object]:
    history = read_history(run_dir)
    best = json.loads((run_dir / "best.json").read_text())
    greedy, beam = test_scores(greedy_report), test_scores(beam_report)
    if greedy["beam"] != 1 or beam["beam"] == 1:
        raise SystemExit(f"{label}: expected a greedy report then a beam report, got beams "
                         f"{greedy['beam']} and {beam['beam']}")
    curve = " ".join(f"{row['val_bleu']:.1f}" for row in history if "val_bleu" in row)
    return {
        "label": label, "parameters": beam["parameters"], "epochs": len(history),
        "best_epoch": best["epoch"], "best_val_bleu": best["best"], "curve": curve,
        "minutes": sum(row.get("train_seconds", 0.0) for row in history) / 60,
        "tokens_per_second": statistics.median(row["tokens_per_second"] for row in history),
        "greedy": greedy["bleu"], "beam": beam["bleu"], "chrf": beam["chrf"],
        "beam_lowercase": beam["bleu_lowercase"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--row", nargs=4, action="append", required=True,
                        metavar=("LABEL", "RUN_DIR", "GREEDY_REPORT", "BEAM5_REPORT"))
    arguments = parser.parse_args(argv)
    rows = [row_figures(label, Path(run), Path(greedy), Path(beam)) for label, run, greedy, beam in arguments.row]
    print("| model | parameters | epochs | best epoch (val BLEU, greedy) | val BLEU after each epoch "
          "| minutes of steps | target tokens/s | test BLEU greedy | test BLEU beam 5 | chrF2 beam 5 "
          "| lowercased BLEU beam 5 |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['label']} | {row['parameters'] / 1e6:.1f} M | {row['epochs']} "
              f"| {row['best_epoch']} ({row['best_val_bleu']:.2f}) | {row['curve']} | {row['minutes']:.1f} "
              f"| {row['tokens_per_second']:,.0f} | {row['greedy']:.2f} | {row['beam']:.2f} | {row['chrf']:.2f} "
              f"| {row['beam_lowercase']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
