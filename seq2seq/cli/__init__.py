"""seq2seq: recurrent language models, encoder-decoder translation, speech recognition, captioning (Keras 3, TensorFlow).

Bad input (config, files, options) ends with one `error:` line on stderr and
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys

from seq2seq.core.specials import SEARCH_PRECISIONS
from seq2seq.errors import UserError
from seq2seq.translation import shortlist as shortlists


def _quiet_tensorflow() -> None:
    for name in ("TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel", "ABSL_MIN_LOG_LEVEL"):
        os.environ.setdefault(name, "3")
    # TensorFlow's C++ start-up notices bypass Python logging: silence fd 2 while it loads (errors still raise).
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _number(kind: type, name: str, lowest: float | None = None, strict: bool = False):
    """An argparse type: a finite `kind` (int: a whole number) at least `lowest` (above it when `strict`)."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {noun}. Received: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number. Received: {text!r}")
        if lowest is not None and (value <= lowest if strict else value < lowest):
            bound = f"above {lowest}" if strict else f"at least {lowest}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}. Received: {value}")
        return value
    return parse


def _positive(kind: type, name: str):
    """A whole number at least 1 (`int`) or a number above 0 (`float`)."""
    return _number(int, name, 1) if kind is int else _number(float, name, 0, strict=True)


def _finite_float(name: str):
    """Any finite number (NaN and infinity are refused)."""
    return _number(float, name)


def _count(name: str):
    """A whole number, 0 or more."""
    return _number(int, name, 0)


def _positive_int(name: str):
    return _positive(int, name)


def _positive_float(name: str):
    return _positive(float, name)


def _config_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("config", help=f"experiment YAML, e.g. {example}")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set training.epochs=2 (repeatable)")


def _decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """The decoding options shared by `translate` and `evaluate --model`."""
    parser.add_argument("--beam", type=_positive_int("--beam"), default=5, help="beam width (1: greedy)")
    parser.add_argument("--alpha", type=_finite_float("--alpha"), default=0.6, help="length-penalty exponent (Wu et al. 2016)")
    parser.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64,
                        help="sentences per batch (long ones come in smaller batches: at most 2,048 source subwords)")
    parser.add_argument("--max-length-ratio", type=_positive_float("--max-length-ratio"), default=1.5)
    parser.add_argument("--max-length-offset", type=_count("--max-length-offset"), default=10,
                        help="outputs stop after max-length-ratio x source tokens + this many")
    parser.add_argument("--max-source-tokens", type=_positive_int("--max-source-tokens"), default=250,
                        help="longer sources are truncated (with a warning count)")
    parser.add_argument("--lm", help="target-side language model for shallow fusion (same target vocabulary)")
    parser.add_argument("--lm-weight", type=_finite_float("--lm-weight"), default=0.2,
                        help="weight of the language model's log-probs")
    parser.add_argument("--temperature", type=_positive_float("--temperature"), default=None,
                        help="sample translations from softmax(logits / T) instead of searching (needs --beam 1)")
    parser.add_argument("--top-k", type=_positive_int("--top-k"), default=None,
                        help="sample from the K most likely tokens at each step (needs --beam 1)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed: the same seed gives the same samples")
    parser.add_argument("--precision", choices=SEARCH_PRECISIONS, default="float32",
                        help="bfloat16: products with bfloat16 weight copies (faster with AMX; outputs differ)")
    parser.add_argument("--shortlist", action="store_true", help="score only the words in the model's shortlist.npz")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seq2seq", description=__doc__.splitlines()[0])
    from seq2seq import __version__
    parser.add_argument("--version", action="version", version=f"seq2seq {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lm = commands.add_parser("lm", help="recurrent language models: train, score, generate")
    lm_commands = lm.add_subparsers(dest="lm_command", required=True, metavar="LM_COMMAND")

    train = lm_commands.add_parser("train", help="train (or resume) a language model from a YAML config")
    _config_arguments(train, "configs/lm_ptb_lstm.yaml")
    train.set_defaults(handler="seq2seq.cli.lm:train")

    score = lm_commands.add_parser("score", help="log-probability and perplexity of each line")
    score.add_argument("--model", required=True, help="language-model directory")
    score.add_argument("input", nargs="?", default="-", help="text file (plain or .gz); - or absent: stdin")
    score.add_argument("--json", action="store_true", help="write one JSON document instead of TSV")
    score.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64)
    score.add_argument("--errors", choices=("strict", "replace"), default="strict",
                       help="invalid UTF-8: stop with an error naming the line (strict) or use U+FFFD")
    score.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    score.add_argument("--rerank", action="store_true",
                       help="input is an n-best list ('N ||| text ||| score' lines, from translate --n-best); "
                            "write the best text per sentence after adding --lm-weight x the LM log-probability")
    score.add_argument("--lm-weight", type=_finite_float("--lm-weight"), default=0.2, help="with --rerank: the language model's weight")
    score.set_defaults(handler="seq2seq.cli.lm:score")

    generate = lm_commands.add_parser("generate", help="sample text from a language model")
    generate.add_argument("--model", required=True, help="language-model directory")
    generate.add_argument("--prompt", default="", help="text the samples continue")
    generate.add_argument("--max-tokens", type=_positive_int("--max-tokens"), default=50)
    generate.add_argument("--temperature", type=_positive_float("--temperature"), default=1.0)
    generate.add_argument("--top-k", type=_positive_int("--top-k"), default=None,
                          help="sample only from the K most likely tokens")
    generate.add_argument("--seed", type=int, default=0, help="the same seed gives the same samples")
    generate.add_argument("--num-samples", type=_positive_int("--num-samples"), default=1)
    generate.set_defaults(handler="seq2seq.cli.lm:generate")

    perception = commands.add_parser("perception", help="speech recognition and image captioning: train, evaluate, ensemble")
    perception_commands = perception.add_subparsers(dest="perception_command", required=True,
                                                    metavar="PERCEPTION_COMMAND")
    train = perception_commands.add_parser("train", help="train (or resume) a speech recogniser or an image "
                                                         "captioner from a YAML config")
    _config_arguments(train, "configs/speech_digits.yaml")
    train.set_defaults(handler="seq2seq.cli.perception:train")
    evaluate = perception_commands.add_parser("evaluate", help="word error rate, exact match and BLEU of a "
                                                               "perception model on its test data")
    evaluate.add_argument("--model", required=True, help="speech or captioning model directory")
    evaluate.add_argument("--beam", type=_positive_int("--beam"), default=5, help="beam width (1: greedy)")
    evaluate.add_argument("--alpha", type=_finite_float("--alpha"), default=0.0, help="length-penalty exponent")
    evaluate.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64)
    evaluate.add_argument("--output", help="also write report.json, report.md (and attention.png) into this folder")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    evaluate.set_defaults(handler="seq2seq.cli.perception:evaluate")
    ensemble = perception_commands.add_parser("ensemble", help="one model directory that searches with several "
                                                               "models at once (their mean probabilities)")
    ensemble.add_argument("models", nargs="+", metavar="MODEL_DIR", help="perception model directories of one "
                          "task and vocabulary; the first one's config.yaml goes with the ensemble")
    ensemble.add_argument("--output", required=True, help="the new model directory")
    ensemble.add_argument("--overwrite", action="store_true", help="replace an existing model directory there")
    ensemble.set_defaults(handler="seq2seq.cli.perception:ensemble")
    for name, kind, handler in (("transcribe", "WAV recording", "transcribe"), ("caption", "image", "caption")):
        command = commands.add_parser(name, help=f"one line of words per {kind}, in the order given")
        command.add_argument("--model", required=True, help=f"{'speech' if name == 'transcribe' else 'captioning'} "
                                                            "model directory")
        command.add_argument("files", nargs="+", metavar="FILE", help=f"{kind} files")
        command.add_argument("--beam", type=_positive_int("--beam"), default=5, help="beam width (1: greedy)")
        command.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64)
        command.set_defaults(handler=f"seq2seq.cli.perception:{handler}")

    train = commands.add_parser("train", help="train (or resume) a translation model from a YAML config")
    _config_arguments(train, "configs/multi30k_de_en_gru_bahdanau.yaml")
    train.set_defaults(handler="seq2seq.cli.translation:train")

    vocab = commands.add_parser("build-vocab", help="train the SentencePiece vocabularies of a config")
    _config_arguments(vocab, "configs/multi30k_de_en_gru_bahdanau.yaml")
    vocab.add_argument("--overwrite", action="store_true", help="replace existing vocabularies")
    vocab.set_defaults(handler="seq2seq.cli.translation:build_vocab")

    average = commands.add_parser("average-checkpoints",
                                  help="average the last K epoch checkpoints of a run into a new model")
    average.add_argument("run_dir", help="the run folder of `seq2seq train` (its run_dir)")
    average.add_argument("--last", type=_positive_int("--last"), default=5, help="how many checkpoints (K)")
    average.add_argument("-o", "--output", required=True, help="new model directory")
    average.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    average.add_argument("--storage-dtype", choices=("float32", "float16"), default="float32",
                         help="float16 halves model.keras (loading converts back to float32)")
    average.set_defaults(handler="seq2seq.cli.translation:average_checkpoints")

    shortlist = commands.add_parser("shortlist", help="build a model's lexical shortlist for translate --shortlist")
    for option, text in (("--model", "translation-model directory (shortlist.npz goes there)"),
                         ("--source", "source side of training pairs"), ("--target", "target side, line by line")):
        shortlist.add_argument(option, required=True, help=text)
    for option, kind, default in (("--per-source", _positive_int, shortlists.PER_SOURCE), ("--frequent", _count,
                                  shortlists.FREQUENT), ("--max-pairs", _positive_int, shortlists.MAX_PAIRS)):
        shortlist.add_argument(option, type=kind(option), default=default, help=f"(default {default})")
    shortlist.add_argument("--overwrite", action="store_true", help="replace an existing shortlist.npz")
    shortlist.set_defaults(handler="seq2seq.cli.translation:shortlist")

    translate = commands.add_parser("translate", help="translate a text file, one sentence per line")
    translate.add_argument("--model", help="translation-model directory (default: the shipped "
                           "saved_models/general_de_en, looked up in the current folder and the source tree)")
    translate.add_argument("input", nargs="?", default="-", help="text file (plain or .gz); - or absent: stdin")
    translate.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    translate.add_argument("--n-best", type=_positive_int("--n-best"), default=1,
                           help="hypotheses per sentence; above 1 writes 'N ||| text ||| score' lines")
    translate.add_argument("--errors", choices=("strict", "replace"), default="strict",
                           help="invalid UTF-8: stop with an error naming the line (strict) or use U+FFFD")
    translate.add_argument("--split-sentences", action="store_true",
                           help="lines are paragraphs: translate each sentence (long ones cut at clauses, not "
                                "truncated), join them back onto the line; URLs, e-mail addresses and numbers "
                                "are carried over unchanged")
    _decoding_arguments(translate)
    translate.set_defaults(handler="seq2seq.cli.translation:translate")

    evaluate = commands.add_parser("evaluate", help="BLEU, chrF2 and TER (sacrebleu) of a translation or a model")
    evaluate.add_argument("--hypothesis", help="an existing translation to score (no model needed)")
    evaluate.add_argument("--model", help="translation-model directory: translate --source, then score")
    evaluate.add_argument("--source", help="source file to translate with --model")
    evaluate.add_argument("--tfds", metavar="NAME", help="translate a tensorflow-datasets split with --model, "
                          "e.g. wmt14_translate/de-en (must be prepared already), or folder:PATH")
    evaluate.add_argument("--split", default="test", help="with --tfds: the split, e.g. test or validation[:500]")
    evaluate.add_argument("--tfds-data-dir", help="with --tfds: where tfds finds prepared datasets")
    evaluate.add_argument("--reference", action="append",
                          help="reference file (repeatable; not with --tfds, whose references come with it)")
    evaluate.add_argument("--baseline", help="another system's translation: paired bootstrap comparison")
    evaluate.add_argument("--bootstrap-samples", type=_positive_int("--bootstrap-samples"), default=1000)
    evaluate.add_argument("--report", help="write report.json and report.md into this new folder")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --report folder")
    _decoding_arguments(evaluate)
    evaluate.set_defaults(handler="seq2seq.cli.evaluation:evaluate")

    export = commands.add_parser("export", help="write a translation model as a TensorFlow SavedModel "
                                 "(text in, text out; tokenization and beam search in the graph)")
    export.add_argument("--model", help="translation-model directory (default: the shipped model, as translate)")
    export.add_argument("--output", "-o", required=True, help="new SavedModel directory")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export at --output")
    export.add_argument("--max-source-tokens", type=_positive_int("--max-source-tokens"), default=250,
                        help="longer sources are truncated, as by translate")
    export.set_defaults(handler="seq2seq.cli.translation:export")

    serve = commands.add_parser("serve", help="answer TensorFlow Serving's REST predict protocol with translations")
    serve.add_argument("--model", help="translation-model directory (default: the shipped model, as translate)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=_positive_int("--port"), default=8501)
    serve.add_argument("--name", help="the model name in the URLs (default: the model folder's name)")
    serve.add_argument("--max-sentences", type=_positive_int("--max-sentences"), default=64,
                       help="sentences per request; more answer 413")
    serve.add_argument("--max-chars", type=_positive_int("--max-chars"), default=2000,
                       help="characters per sentence; more answer 413")
    serve.add_argument("--batch-window-ms", type=_positive_float("--batch-window-ms"), default=5.0,
                       help="how long a request waits for others to share its batch")
    _decoding_arguments(serve)
    serve.set_defaults(handler="seq2seq.cli.translation:serve")

    compare = commands.add_parser("compare", help="side-by-side Markdown table of evaluation reports")
    compare.add_argument("reports", nargs="+", metavar="REPORT", help="report.json files (or their folders)")
    compare.set_defaults(handler="seq2seq.cli.evaluation:compare")
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns its exit status (2 for bad input, 130 when interrupted by Ctrl-C or SIGTERM).

    SIGTERM is handled as Ctrl-C: output files are written atomically, so an
    interrupted command leaves the previous output or none; an interrupted
    training run resumes from its last finished epoch (see the README's
    "What survives a kill").
    """
    parser = build_parser()
    arguments = parser.parse_args(argv)
    _quiet_tensorflow()
    with _sigterm_as_interrupt():
        return _run(arguments)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises `KeyboardInterrupt` during the block (main thread only); the old handler comes back after."""
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except (ValueError, AttributeError):  # not the main thread, or no SIGTERM: leave the default
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(arguments: argparse.Namespace) -> int:
    module_name, function_name = arguments.handler.split(":")
    try:
        import importlib

        handler = getattr(importlib.import_module(module_name), function_name)
        return handler(arguments) or 0
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        resume = (" (run the same command to resume from the last finished epoch)"
                  if arguments.handler.endswith(":train") else "")
        print(f"interrupted{resume}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head -1`): end quietly, as a SIGPIPE would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
