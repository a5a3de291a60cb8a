"""Language-model generation speed: generated tokens per second, cold (first call) and warm.

Usage:
    python bench/generation_bench.py saved_models/lm_shakespeare_char saved_models/lm_ptb_lstm

For each model: `--num-samples` samples of at most `--max-tokens` tokens
(characters at character level, where generation never stops early) from
`--prompt`, with `seq2seq.lm.generation.generate`. The first call includes
tracing the compiled search; the warm figure is the best of `--rounds`
further calls with other seeds. Tokens are those generated (the prompt not
counted; word-level samples stop at `<eos>`, which counts).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seq2seq.lm.generation import generate  # noqa: E402
from seq2seq.model_dirs import load_language_model  # noqa: E402


def generated_tokens(texts: list[str], prompt: str, vocab) -> int:
    """Tokens generated after the prompt (characters at character level; words plus <eos> otherwise)."""
    if vocab.level == "char":
        return sum(len(text) - len(prompt) for text in texts)
    prompt_tokens = len(vocab.encode(prompt))
    return sum(len(vocab.encode(text)) - prompt_tokens + 1 for text in texts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="language-model directories")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--num-samples", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    for directory in arguments.models:
        model, vocab = load_language_model(directory)
        options = dict(
            prompt=arguments.prompt,
            max_tokens=arguments.max_tokens,
            temperature=arguments.temperature,
            num_samples=arguments.num_samples,
        )
        started = time.perf_counter()
        texts = generate(model, vocab, seed=0, **options)
        cold = time.perf_counter() - started
        cold_tokens = generated_tokens(texts, arguments.prompt, vocab)
        warm = []
        for seed in range(1, arguments.rounds + 1):
            started = time.perf_counter()
            texts = generate(model, vocab, seed=seed, **options)
            seconds = time.perf_counter() - started
            warm.append((generated_tokens(texts, arguments.prompt, vocab) / seconds, seconds))
        rate, seconds = max(warm)
        print(
            f"{Path(directory).name}: {arguments.num_samples} samples x <= {arguments.max_tokens} tokens; "
            f"cold {cold_tokens / cold:.0f} tokens/s ({cold:.2f} s incl. tracing); "
            f"warm {rate:.0f} tokens/s (best of {arguments.rounds}, {seconds:.2f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
