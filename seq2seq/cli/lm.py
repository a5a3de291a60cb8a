"""The `seq2seq lm ...` commands: argument handling and output formats."""

from __future__ import annotations

import contextlib
import sys
import time

from seq2seq import config as config_lib
from seq2seq.documents import json_text
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write, check_output_path
from seq2seq.textio import read_lines


def train(arguments) -> int:
    from seq2seq.lm.config import LMConfig
    from seq2seq.lm.training import train_language_model

    config = config_lib.load(LMConfig, arguments.config, arguments.overrides)
    train_language_model(config)
    return 0


@contextlib.contextmanager
def _output(path: str | None):
    if path is None:
        yield sys.stdout
    else:
        with atomic_write(path) as handle:
            yield handle


def score(arguments) -> int:
    from seq2seq.lm.scoring import corpus_score, score_lines
    from seq2seq.model_dirs import load_language_model

    if arguments.output:
        check_output_path(arguments.output)  # before any work
    model, vocab = load_language_model(arguments.model)
    lines = read_lines(arguments.input, errors=arguments.errors)
    if arguments.rerank:
        return _rerank(arguments, model, vocab, lines)
    started = time.perf_counter()
    scores = score_lines(model, vocab, lines, arguments.batch_size)
    elapsed = time.perf_counter() - started
    total = corpus_score(scores) if scores else None
    with _output(arguments.output) as out:
        if arguments.json:
            document = {
                "model": str(arguments.model),
                "input": arguments.input,
                "lines": [
                    {
                        "line": n,
                        "log_prob": s.log_prob,
                        "tokens": s.tokens,
                        "unknown": s.unknown,
                        "perplexity": s.perplexity,
                    }
                    for n, s in enumerate(scores, start=1)
                ],
                "corpus": None
                if total is None
                else {
                    "log_prob": total.log_prob,
                    "tokens": total.tokens,
                    "unknown": total.unknown,
                    "perplexity": total.perplexity,
                },
            }
            out.write(json_text(document, indent=1))
            out.write("\n")
        else:
            out.write("line\tlog_prob\ttokens\tunknown\tperplexity\n")
            for number, line_score in enumerate(scores, start=1):
                out.write(
                    f"{number}\t{line_score.log_prob:.4f}\t{line_score.tokens}\t"
                    f"{line_score.unknown}\t{line_score.perplexity:.3f}\n"
                )
            if total is not None:
                out.write(f"corpus\t{total.log_prob:.4f}\t{total.tokens}\t{total.unknown}\t{total.perplexity:.3f}\n")
    if total is not None:
        print(
            f"scored {len(scores)} lines, {total.tokens} tokens in {elapsed:.2f}s "
            f"({total.tokens / max(elapsed, 1e-9):.0f} tokens/s); corpus perplexity "
            f"{total.perplexity:.2f}",
            file=sys.stderr,
        )
    return 0


# `lm generate` draws all samples in one batch: samples x tokens bounds its memory (8 bytes per token: the id and
# its random number), here to about 80 MB.
MAX_GENERATED_TOKENS = 10_000_000


def generate(arguments) -> int:
    from seq2seq.lm.generation import generate as generate_text
    from seq2seq.model_dirs import load_language_model

    if arguments.num_samples * arguments.max_tokens > MAX_GENERATED_TOKENS:
        raise UserError(
            f"--num-samples {arguments.num_samples:,} x --max-tokens {arguments.max_tokens:,} tokens would need "
            f"about {8 * arguments.num_samples * arguments.max_tokens / 2**20:,.0f} MiB of output buffers; at most "
            f"{MAX_GENERATED_TOKENS:,} tokens are drawn in one call: ask for fewer samples or tokens."
        )
    model, vocab = load_language_model(arguments.model)
    samples = generate_text(
        model,
        vocab,
        arguments.prompt,
        arguments.max_tokens,
        arguments.temperature,
        arguments.top_k,
        arguments.seed,
        arguments.num_samples,
    )
    for sample in samples:
        print(sample)
        if vocab.level == "char" and len(samples) > 1:
            print("-" * 40)
    return 0


def parse_nbest(lines: list[str], name: str) -> list[list[tuple[str, float]]]:
    """`N ||| text ||| score` lines (N from 0, in order) -> hypotheses per sentence."""
    groups: list[list[tuple[str, float]]] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split(" ||| ")
        try:
            index, text, score = int(fields[0]), fields[1], float(fields[2])
        except (IndexError, ValueError):
            raise UserError(
                f"{name}, line {number}: expected 'N ||| text ||| score' (from translate "
                f"--n-best). Received: {line[:80]!r}"
            ) from None
        if index == len(groups):
            groups.append([])
        elif index != len(groups) - 1:
            raise UserError(
                f"{name}, line {number}: sentence number {index} out of order "
                f"(expected {len(groups) - 1} or {len(groups)})."
            )
        groups[index].append((text, score))
    return groups


def _rerank(arguments, model, vocab, lines) -> int:
    from seq2seq.lm.scoring import score_lines

    groups = parse_nbest(lines, arguments.input)
    texts = [text for group in groups for text, _ in group]
    lm_scores = iter(score_lines(model, vocab, texts, arguments.batch_size))
    with _output(arguments.output) as out:
        for group in groups:
            best = max(
                ((score + arguments.lm_weight * next(lm_scores).log_prob, text) for text, score in group),
                key=lambda pair: pair[0],
            )
            out.write(best[1] + "\n")
    print(
        f"reranked {len(texts)} hypotheses of {len(groups)} sentences with weight {arguments.lm_weight}",
        file=sys.stderr,
    )
    return 0
