"""Corpus scores from sacrebleu (never a hand-written BLEU): BLEU, chrF2, TER, with signatures."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from seq2seq.errors import UserError
from seq2seq.textio import read_lines


def read_parallel(
    hypothesis_path: str | Path, reference_paths: Sequence[str | Path]
) -> tuple[list[str], list[list[str]]]:
    """Hypothesis lines and one list of lines per reference file, checked to align.

    Empty lines stay (an empty translation is scored as empty); an empty file,
    or files of different lengths, are errors naming the files; a reference
    that is the hypothesis file, or two identical references, give a warning.
    """
    hypotheses = read_lines(hypothesis_path)
    if not hypotheses:
        raise UserError(f"{hypothesis_path}: the hypothesis file is empty.")
    references = []
    for path in reference_paths:
        lines = read_lines(path)
        if len(lines) != len(hypotheses):
            raise UserError(
                f"line counts differ: {hypothesis_path} has {len(hypotheses)} lines, "
                f"{path} has {len(lines)}. Line N of the hypothesis must translate line N "
                "of each reference."
            )
        if lines == hypotheses:
            warnings.warn(f"{path} is identical to the hypothesis {hypothesis_path}.", stacklevel=2)
        if lines in references:
            warnings.warn(f"{path} is identical to an earlier reference.", stacklevel=2)
        references.append(lines)
    return hypotheses, references


def corpus_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """BLEU (with n-gram precisions, brevity penalty, length ratio), chrF2, TER and a lowercased BLEU.

    All numbers and signatures come from sacrebleu; `references` holds one list
    of lines per reference set.
    """
    from sacrebleu.metrics import BLEU, CHRF, TER

    bleu_metric, chrf_metric, ter_metric = BLEU(), CHRF(), TER()
    lowercase_metric = BLEU(lowercase=True)
    bleu = bleu_metric.corpus_score(hypotheses, references)
    lowercase = lowercase_metric.corpus_score(hypotheses, references)
    chrf = chrf_metric.corpus_score(hypotheses, references)
    ter = ter_metric.corpus_score(hypotheses, references)
    return {
        "bleu": {
            "score": bleu.score,
            "signature": str(bleu_metric.get_signature()),
            "precisions": list(bleu.precisions),
            "brevity_penalty": bleu.bp,
            "length_ratio": bleu.sys_len / bleu.ref_len if bleu.ref_len else 0.0,
            "hypothesis_length": bleu.sys_len,
            "reference_length": bleu.ref_len,
        },
        "bleu_lowercase": {
            "score": lowercase.score,
            "signature": str(lowercase_metric.get_signature()),
            "note": "lowercased, 13a-tokenized: for comparison with tables that report it",
        },
        "chrf": {"score": chrf.score, "signature": str(chrf_metric.get_signature())},
        "ter": {"score": ter.score, "signature": str(ter_metric.get_signature())},
    }


def paired_bootstrap(
    hypotheses: Sequence[str], baseline: Sequence[str], references: Sequence[Sequence[str]], samples: int = 1000
) -> dict:
    """sacrebleu's paired bootstrap resampling (Koehn 2004) of the system against a baseline.

    Returns, per metric (BLEU, chrF2): the sacrebleu signature, and for each
    system its score, bootstrap mean and 95% confidence half-width; the
    system's entry also has the p-value of its difference from the baseline.
    """
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    test = PairedTest(
        [("baseline", list(baseline)), ("system", list(hypotheses))],
        {"BLEU": BLEU(), "chrF2": CHRF()},
        references,
        test_type="bs",
        n_samples=samples,
    )
    signatures, results = test()
    comparison = {}
    for metric, name in (("bleu", "BLEU"), ("chrf", "chrF2")):
        base, system = results[name]
        comparison[metric] = {
            "signature": str(signatures[name]),
            "baseline": {"score": base.score, "mean": float(base.mean), "ci95": float(base.ci)},
            "system": {
                "score": system.score,
                "mean": float(system.mean),
                "ci95": float(system.ci),
                "p_value": float(system.p_value),
            },
        }
    return comparison


LENGTH_BUCKETS = ((0, 10), (11, 20), (21, 30), (31, 40), (41, None))  # 0: empty lines count too


def sentence_analysis(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    sources: Sequence[str] | None = None,
    extremes: int = 5,
) -> dict:
    """BLEU by length bucket and the sentences with the highest and lowest sentence chrF2.

    Buckets group sentences by source length in words (by the first
    reference's length when there is no source); each bucket's BLEU is
    sacrebleu's corpus BLEU of its sentences. Sentence scores are sacrebleu's
    `sentence_score` of chrF2 against all references. Empty sources and
    hypotheses are kept (as everywhere in evaluation).
    """
    from sacrebleu.metrics import BLEU, CHRF

    basis = sources if sources is not None else references[0]
    lengths = [len(line.split()) for line in basis]
    buckets = []
    for low, high in LENGTH_BUCKETS:
        rows = [i for i, n in enumerate(lengths) if n >= low and (high is None or n <= high)]
        if not rows:
            continue
        score = BLEU().corpus_score([hypotheses[i] for i in rows], [[ref[i] for i in rows] for ref in references])
        buckets.append({"range": f"{low}-{high}" if high else f"{low}+", "sentences": len(rows), "bleu": score.score})
    chrf = CHRF()
    scored = []
    for index, hypothesis in enumerate(hypotheses):
        score = chrf.sentence_score(hypothesis, [ref[index] for ref in references]).score
        scored.append(
            {
                "line": index + 1,
                "chrf": score,
                "source": None if sources is None else sources[index],
                "hypothesis": hypothesis,
                "reference": references[0][index],
            }
        )
    ranked = sorted(scored, key=lambda entry: (-entry["chrf"], entry["line"]))
    count = min(extremes, len(ranked) // 2)
    return {
        "length_unit": "source words" if sources is not None else "reference words",
        "length_buckets": buckets,
        "best": ranked[:count],
        "worst": ranked[::-1][:count],
    }
