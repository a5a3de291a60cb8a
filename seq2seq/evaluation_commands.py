"""The `seq2seq evaluate` command."""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from pathlib import Path

from seq2seq.errors import UserError


def evaluate(arguments) -> int:
    from seq2seq.evaluation import corpus_scores, read_parallel
    from seq2seq.reports import build_report, write_report

    if arguments.report and Path(arguments.report).exists() and not arguments.overwrite:
        raise UserError(f"{arguments.report}: exists; pass --overwrite to replace the report there.")
    model_info = decoding = timing = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if arguments.hypothesis:
            if arguments.model or arguments.source:
                raise UserError("give either --hypothesis, or --model with --source, not both.")
            hypotheses, references = read_parallel(arguments.hypothesis, arguments.reference)
        else:
            if not (arguments.model and arguments.source):
                raise UserError("give --hypothesis FILE, or --model DIR with --source FILE.")
            hypotheses, references, model_info, decoding, timing = _translate(arguments)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    scores = corpus_scores(hypotheses, references)
    comparison = None
    if arguments.baseline:
        from seq2seq.evaluation import paired_bootstrap

        baseline, _ = read_parallel(arguments.baseline, arguments.reference)
        comparison = paired_bootstrap(hypotheses, baseline, references, arguments.bootstrap_samples)
    report = build_report(scores, {"hypothesis": arguments.hypothesis, "source": arguments.source,
                                   "references": list(arguments.reference), "lines": len(hypotheses),
                                   "baseline": arguments.baseline},
                          model_info, decoding, timing, comparison)
    for name, label in (("bleu", "BLEU"), ("chrf", "chrF2"), ("ter", "TER"), ("bleu_lowercase", "BLEU-lc")):
        print(f"{label}\t{scores[name]['score']:.2f}\t{scores[name]['signature']}")
    if comparison:
        for metric, label in (("bleu", "BLEU"), ("chrf", "chrF2")):
            entry = comparison[metric]
            print(f"paired bootstrap {label}: baseline {entry['baseline']['score']:.2f} "
                  f"(±{entry['baseline']['ci95']:.2f}), system {entry['system']['score']:.2f} "
                  f"(±{entry['system']['ci95']:.2f}), p = {entry['system']['p_value']:.4f}")
    if arguments.report:
        write_report(arguments.report, report, overwrite=arguments.overwrite)
        print(f"report written to {arguments.report}/report.json and report.md", file=sys.stderr)
    return 0


def _translate(arguments):
    from seq2seq.evaluation import read_parallel
    from seq2seq.export import load_translation_model
    from seq2seq.translator import Translator, stderr_progress

    sources, references = read_parallel(arguments.source, arguments.reference)
    model, source_vocab, target_vocab = load_translation_model(arguments.model)
    translator = Translator(model, source_vocab, target_vocab, beam_size=arguments.beam, alpha=arguments.alpha,
                            max_length_ratio=arguments.max_length_ratio,
                            max_length_offset=arguments.max_length_offset)
    update, close = stderr_progress(len(sources))
    started = time.perf_counter()
    try:
        results = translator.translate(sources, arguments.batch_size, update)
    finally:
        close()
    seconds = time.perf_counter() - started
    config_file = Path(arguments.model) / "config.yaml"
    model_info = {"path": str(arguments.model), "parameters": int(model.count_params()),
                  "config_sha256": hashlib.sha256(config_file.read_bytes()).hexdigest()
                  if config_file.exists() else None}
    decoding = {"beam": arguments.beam, "alpha": arguments.alpha,
                "max_length_ratio": arguments.max_length_ratio, "max_length_offset": arguments.max_length_offset}
    timing = {"seconds": seconds, "sentences_per_second": len(sources) / max(seconds, 1e-9)}
    return [hypotheses[0].text for hypotheses in results], references, model_info, decoding, timing
