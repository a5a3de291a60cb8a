"""The `seq2seq evaluate` and `seq2seq compare` commands."""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

from seq2seq.errors import UserError

ATTENTION_FIGURES = 3  # heatmaps drawn for models with attention


def evaluate(arguments) -> int:
    from seq2seq.evaluation.reports import build_report, write_report
    from seq2seq.evaluation.scores import corpus_scores, read_parallel, sentence_analysis

    if arguments.report:
        check_report_folder(arguments.report, arguments.overwrite)
    translated = sources = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if arguments.hypothesis:
            if arguments.model or arguments.source or arguments.tfds:
                raise UserError("give either --hypothesis, or --model with --source or --tfds, not both.")
            if not arguments.reference:
                raise UserError("--hypothesis needs at least one --reference FILE.")
            hypotheses, references = read_parallel(arguments.hypothesis, arguments.reference)
        else:
            if not arguments.model or bool(arguments.source) == bool(arguments.tfds):
                raise UserError(
                    "give --hypothesis FILE, or --model DIR with either --source FILE or --tfds NAME --split SPLIT."
                )
            sources, references = (
                _tfds_data(arguments)
                if arguments.tfds
                else read_parallel(arguments.source, _required_references(arguments))
            )
            translated = _translate(arguments, sources)
            hypotheses = translated["hypotheses"]
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    scores = corpus_scores(hypotheses, references)
    comparison = None
    if arguments.baseline:
        from seq2seq.evaluation.scores import paired_bootstrap

        baseline = _baseline_lines(arguments.baseline, len(hypotheses))
        comparison = paired_bootstrap(hypotheses, baseline, references, arguments.bootstrap_samples)
    data = {
        "hypothesis": arguments.hypothesis,
        "source": arguments.source,
        "tfds": arguments.tfds,
        "split": arguments.split if arguments.tfds else None,
        "references": list(arguments.reference or []),
        "lines": len(hypotheses),
        "baseline": arguments.baseline,
    }
    for name, label in (("bleu", "BLEU"), ("chrf", "chrF2"), ("ter", "TER"), ("bleu_lowercase", "BLEU-lc")):
        print(f"{label}\t{scores[name]['score']:.2f}\t{scores[name]['signature']}")
    if comparison:
        for metric, label in (("bleu", "BLEU"), ("chrf", "chrF2")):
            entry = comparison[metric]
            print(
                f"paired bootstrap {label}: baseline {entry['baseline']['score']:.2f} "
                f"(±{entry['baseline']['ci95']:.2f}), system {entry['system']['score']:.2f} "
                f"(±{entry['system']['ci95']:.2f}), p = {entry['system']['p_value']:.4f}"
            )
    if arguments.report:
        analysis = sentence_analysis(hypotheses, references, sources)
        figures = _figures(analysis, translated, arguments.model)
        run = translated or {}
        report = build_report(
            scores,
            data,
            run.get("model"),
            run.get("decoding"),
            run.get("timing"),
            comparison,
            analysis,
            sorted(figures),
        )
        write_report(arguments.report, report, overwrite=arguments.overwrite, figures=figures)
        print(f"report written to {arguments.report}/report.json and report.md", file=sys.stderr)
    return 0


def check_report_folder(folder: str, overwrite: bool, schema: str | None = None) -> None:
    """Before any work: a new folder, or with --overwrite an earlier report folder (its report.json says so).

    `schema`: the report kind that may be replaced (default: translation evaluation reports).
    """
    from seq2seq.evaluation.reports import SCHEMA
    from seq2seq.outputs import check_replaceable

    schema = schema or SCHEMA

    if Path(folder).exists() and not overwrite:
        raise UserError(f"{folder}: exists; pass --overwrite to replace the report there.")

    def is_report(path: Path) -> bool:
        try:
            return json.loads((path / "report.json").read_text(encoding="utf-8")).get("schema") == schema
        except (OSError, ValueError, AttributeError):
            return False

    check_replaceable(folder, is_report, "evaluation report folder")


def _required_references(arguments) -> list[str]:
    if not arguments.reference:
        raise UserError("--source needs at least one --reference FILE.")
    return arguments.reference


def _baseline_lines(path: str, count: int) -> list[str]:
    from seq2seq.textio import read_lines

    lines = read_lines(path)
    if len(lines) != count:
        raise UserError(
            f"line counts differ: the baseline {path} has {len(lines)} lines, the evaluated translation has {count}."
        )
    return lines


def _tfds_data(arguments) -> tuple[list[str], list[list[str]]]:
    """Source lines and the single reference set of a tfds split, in the model's language direction."""
    from pipelines.translation import tfds_translation
    from seq2seq.model_dirs import saved_config
    from seq2seq.translation.config import TranslationConfig
    from seq2seq.translation.data import decoded_pairs

    if arguments.reference:
        raise UserError("--tfds takes its references from the dataset; drop --reference.")
    config = saved_config(arguments.model, TranslationConfig)
    if config is None:
        raise UserError(f"{arguments.model}: config.yaml is missing; --tfds needs it for the language pair.")
    data = config.data
    pairs = decoded_pairs(
        tfds_translation(
            arguments.tfds, arguments.split, data.source_language, data.target_language, arguments.tfds_data_dir
        )
    )
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    if not sources:
        raise UserError(f"tfds dataset {arguments.tfds!r} split {arguments.split!r} is empty.")
    return sources, [targets]


def _translate(arguments, sources: list[str]) -> dict:
    from seq2seq.cli.translation import make_translator, translate_with_progress, truncation_note
    from seq2seq.model_dirs import load_translation_model

    model, source_vocab, target_vocab = load_translation_model(arguments.model)
    translator = make_translator(arguments, model, source_vocab, target_vocab)
    results, seconds = translate_with_progress(translator, sources, arguments.batch_size)
    if translator.stats.truncated:
        print(f"warning: {truncation_note(translator.stats.truncated, arguments.max_source_tokens)}", file=sys.stderr)
    config_file = Path(arguments.model) / "config.yaml"
    return {
        "hypotheses": [hypotheses[0].text for hypotheses in results],
        "loaded": (model, source_vocab, target_vocab),
        "model": {
            "path": str(arguments.model),
            "parameters": int(model.count_params()),
            "config_sha256": hashlib.sha256(config_file.read_bytes()).hexdigest() if config_file.exists() else None,
        },
        "decoding": {
            "beam": arguments.beam,
            "alpha": arguments.alpha,
            "max_length_ratio": arguments.max_length_ratio,
            "max_length_offset": arguments.max_length_offset,
            "batch_size": arguments.batch_size,
            "max_source_tokens": arguments.max_source_tokens,
            "truncated": translator.stats.truncated,
            "lm": str(arguments.lm) if arguments.lm else None,
            "lm_weight": arguments.lm_weight if arguments.lm else None,
            "temperature": arguments.temperature,
            "top_k": arguments.top_k,
            "seed": arguments.seed if arguments.temperature or arguments.top_k else None,
            "precision": arguments.precision,
        },
        "timing": {"seconds": seconds, "sentences_per_second": len(sources) / max(seconds, 1e-9)},
    }


def _figures(analysis: dict, translated: dict | None, model_dir: str | None) -> dict[str, bytes]:
    """PNG name -> bytes: BLEU by length; with a model, attention heatmaps and training curves."""
    from seq2seq.evaluation import figures as report_figures

    figures = {"bleu_by_length.png": report_figures.bleu_by_length(analysis["length_buckets"], analysis["length_unit"])}
    if translated is None:
        return figures
    model, source_vocab, target_vocab = translated["loaded"]
    if getattr(model.decoder, "attention_kind", "none") != "none":
        from seq2seq.translation.translator import attention_matrix

        chosen = [
            entry
            for entry in analysis["best"] + analysis["worst"]
            if entry["hypothesis"].strip() and len(entry["source"].split()) <= 25
        ][:ATTENTION_FIGURES]
        for number, entry in enumerate(chosen, start=1):
            weights, source_pieces, target_pieces = attention_matrix(
                model, source_vocab, target_vocab, entry["source"], entry["hypothesis"]
            )
            figures[f"attention_{number}_line{entry['line']}.png"] = report_figures.attention_heatmap(
                weights, source_pieces, target_pieces
            )
    history = report_figures.read_training_history(model_dir)
    if history and "epoch" in history:
        figures["training_curves.png"] = report_figures.training_curves(history)
    return figures


def compare(arguments) -> int:
    """Markdown table of several `report.json` files, one column per report."""
    from seq2seq.evaluation.reports import SCHEMA, comparison_table

    reports = []
    for path in arguments.reports:
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{path}: report not found.") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(f"{path}: not a JSON report ({error}).") from None
        if not isinstance(report, dict) or report.get("schema") != SCHEMA:
            raise UserError(
                f'{path}: not a seq2seq evaluation report (expected "schema": "{SCHEMA}"; '
                "write one with `seq2seq evaluate --report DIR`)."
            )
        try:  # a report of the right schema whose fields are missing or of the wrong type (a hand-edited file)
            comparison_table([(str(path), report)])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            detail = f"missing field {error}" if isinstance(error, KeyError) else f"a field of the wrong type ({error})"
            raise UserError(f"{path}: a damaged report: {detail}; write it again with `seq2seq evaluate`.") from None
        reports.append((str(path), report))
    print(comparison_table(reports), end="")
    return 0
