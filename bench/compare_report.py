"""The report of bench/joey_compare.py: the table of medians over rounds and the notes below it.

`FIGURES` lists the table's rows (label, phase, key in the worker results,
format); `report` prints the table with the ratio seq2seq / Joey NMT, then
the settings and versions the figures were measured with.
"""

from __future__ import annotations

import os
import statistics

from common import cpu_name

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


def median_of(rounds: list[dict], side: str, phase: str, key) -> float | None:
    values = []
    for result in rounds:
        value = result[f"{side}_{phase}"]
        for part in key if isinstance(key, tuple) else (key,):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            values.append(value)
    return statistics.median(values) if values else None


def report(rounds: list[dict], arguments, setup: dict) -> None:
    rows = [("figure (median over rounds)", "seq2seq", "Joey NMT", "ratio")]
    for label, phase, key, form in FIGURES:
        ours, joey = (median_of(rounds, side, phase, key) for side in ("ours", "joey"))
        ratio = f"{ours / joey:.2f}" if ours is not None and joey else "n/a"
        rows.append(
            (
                label,
                form.format(ours) if ours is not None else "n/a",
                form.format(joey) if joey is not None else "n/a",
                ratio,
            )
        )
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
    print(
        f"\nJoey's own log 'Tokens per Sec' (whole loop incl. on-the-fly tokenization and data loading): "
        f"{log_figure:,.0f}"
        if log_figure
        else "\nJoey's log had no 'Tokens per Sec' line"
    )
    print(
        f"timed steps per round: seq2seq {[r['ours_train']['timed_steps'] for r in rounds]} "
        f"of {arguments.steps} "
        f"(first step of each bucket shape = graph tracing left out), Joey "
        f"{[r['joey_train']['timed_steps'] for r in rounds]} of {arguments.steps} (first step left out)"
    )
    print(
        f"sentences per batch seen: seq2seq {ours_train['batch_sentences']}, "
        f"Joey {joey_train['batch_sentences']} "
        f"(64 unless a bucket/epoch ran out)"
    )
    decoding = (
        "the trained models given (--model / --joey-model)"
        if arguments.model and arguments.joey_model
        else f"models trained for only {arguments.steps} steps in this run"
        + (" (seq2seq: --model)" if arguments.model else "")
        + (" (Joey: --joey-model)" if arguments.joey_model else "")
        + ": short or degenerate outputs distort decoding speed"
    )
    print(f"decoding: {setup['data']['test_lines']} test sentences, batches of 64, warm-up pass untimed; {decoding}")
    print(
        f"steps {arguments.steps}, rounds {arguments.rounds} (order per round: seq2seq then Joey), "
        f"{os.cpu_count()} CPUs ({cpu_name()})"
    )
    print(f"threads: seq2seq {ours_train['threads']}; Joey {joey_train['threads']}")
    print(f"precision: seq2seq {ours_train['mixed_precision']}, Joey float32")
    print(f"vocabulary: {setup['spm']} ({setup['pieces']} pieces; Joey vocab file {setup['joey_vocab']})")
    ours_v, joey_v = setup["versions"]
    print("versions: seq2seq " + ", ".join(f"{k} {v}" for k, v in ours_v.items()))
    print("          Joey NMT " + ", ".join(f"{k} {v}" for k, v in joey_v.items()))
    print(f"work folder (configs, logs, models): {setup['work']}")
