"""Leave-one-speaker-out cross-validation of a speech config: how well it recognises voices it never heard.

For each speaker of the recordings (or the `speakers` given), one fold
holds that speaker out for testing and the next speaker (in name order,
wrapping round) out for validation, and trains the config on the rest in
`run_dir/fold-SPEAKER` (resumed where it stopped; a finished fold is not
trained again). Every choice the training makes (best epoch, early
stopping) is made on the validation speaker, never on the test speaker.
Each fold's model is then scored on the test speaker's connected-digit
utterances and on each of their recordings alone; the summary holds every
fold's word error rates, their mean and the worst fold.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

from seq2seq.documents import json_text
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write
from seq2seq.perception.config import PerceptionConfig

FINISHED = "finished.json"  # written in a fold's folder once its training has ended


def folds(config: PerceptionConfig, speakers: list[str] | None = None) -> list[tuple[str, str]]:
    """`(test speaker, validation speaker)` of each fold."""
    from seq2seq.perception.digits import recordings

    every = sorted({recording.speaker for recording in recordings(config.data.dir)})
    unknown = sorted(set(speakers or []) - set(every))
    if unknown:
        raise UserError(f"--speakers: {', '.join(unknown)} not among the speakers of {config.data.dir}: {every}.")
    if len(every) < 3:
        raise UserError(f"{config.data.dir}: {len(every)} speakers; a fold needs test, validation and training ones.")
    return [(speaker, every[(every.index(speaker) + 1) % len(every)]) for speaker in (speakers or every)]


def fold_config(config: PerceptionConfig, test: str, valid: str) -> PerceptionConfig:
    data = dataclasses.replace(config.data, test_speaker=test, valid_speaker=valid)
    return dataclasses.replace(config, data=data, run_dir=str(Path(config.run_dir) / f"fold-{test}"))


def cross_validate(config: PerceptionConfig, speakers: list[str] | None = None, beam: int = 5) -> dict:
    """Trains and scores every fold (see the module doc); writes and returns the summary."""
    from seq2seq.evaluation.recognition import evaluate_model
    from seq2seq.perception.training import train_perception_model

    if config.data.task != "speech":
        raise UserError("cross-validation holds out speakers: it needs data.task: speech.")
    rows = []
    for test, valid in folds(config, speakers):
        fold = fold_config(config, test, valid)
        folder = Path(fold.run_dir)
        if not (folder / FINISHED).is_file():
            print(f"fold {test}: training (validation speaker {valid}) in {folder}", flush=True)
            train_perception_model(fold)
            with atomic_write(folder / FINISHED) as handle:
                handle.write(json_text({"test_speaker": test, "valid_speaker": valid}))
        report, _ = evaluate_model(folder / "model", beam)
        with atomic_write(folder / "report.json") as handle:
            handle.write(json_text(report, indent=1))
        scores = report["scores"]
        rows.append(
            {
                "test_speaker": test,
                "valid_speaker": valid,
                "connected_wer": scores["test"]["wer"],
                "single_wer": scores["single"]["wer"],
                "valid_wer": scores["valid"]["wer"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    summary = {"beam": beam, "folds": rows}
    for key in ("connected_wer", "single_wer"):
        values = [row[key] for row in rows]
        summary[f"mean_{key}"], summary[f"worst_{key}"] = statistics.fmean(values), max(values)
    with atomic_write(Path(config.run_dir) / "cross_validation.json") as handle:
        handle.write(json_text(summary, indent=1))
    with atomic_write(Path(config.run_dir) / "cross_validation.md") as handle:
        handle.write(markdown(summary))
    return summary


def markdown(summary: dict) -> str:
    lines = [
        f"Leave-one-speaker-out word error rates in % (beam {summary['beam']})",
        "",
        "| test speaker | validation speaker | connected digits | single digits | validation |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {row['test_speaker']} | {row['valid_speaker']} | {row['connected_wer']:.2f} | "
        f"{row['single_wer']:.2f} | {row['valid_wer']:.2f} |"
        for row in summary["folds"]
    ]
    lines += [
        f"| mean | | {summary['mean_connected_wer']:.2f} | {summary['mean_single_wer']:.2f} | |",
        f"| worst | | {summary['worst_connected_wer']:.2f} | {summary['worst_single_wer']:.2f} | |",
    ]
    return "\n".join(lines) + "\n"
