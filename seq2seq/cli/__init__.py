"""seq2seq: recurrent language models, encoder-decoder translation, speech recognition, captioning.

On Keras 3 and TensorFlow.

Bad input (config, files, options) ends with one `error:` line on stderr and
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse

from seq2seq.cli.arguments import (
    config_arguments,
    count,
    decoding_arguments,
    finite_float,
    model_directory,
    port_number,
    positive_float,
    positive_int,
    seed_number,
)
from seq2seq.cli.arrays import add_arrays_commands
from seq2seq.cli.corpora import add_corpus_commands
from seq2seq.cli.finetune import add_finetune_command
from seq2seq.cli.models import add_models_commands
from seq2seq.cli.running import quick_backend, quiet_tensorflow, run, sigterm_as_interrupt
from seq2seq.core.choices import MAX_OUTPUT_TOKENS
from seq2seq.translation import shortlist as shortlists

MAX_SAMPLES = 10_000  # lm generate --num-samples: one batch (samples x tokens is bounded too)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seq2seq", description=__doc__.splitlines()[0])
    from seq2seq import __version__

    parser.add_argument("--version", action="version", version=f"seq2seq {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lm = commands.add_parser("lm", help="recurrent language models: train, score, generate")
    lm_commands = lm.add_subparsers(dest="lm_command", required=True, metavar="LM_COMMAND")

    train = lm_commands.add_parser("train", help="train (or resume) a language model from a YAML config")
    config_arguments(train, "configs/lm_ptb_lstm.yaml")
    train.set_defaults(handler="seq2seq.cli.lm:train")

    score = lm_commands.add_parser("score", help="log-probability and perplexity of each line")
    score.add_argument("--model", required=True, type=model_directory, help="language-model directory")
    score.add_argument("input", nargs="?", default="-", help="text file (plain or .gz); - or absent: stdin")
    score.add_argument("--json", action="store_true", help="write one JSON document instead of TSV")
    score.add_argument("--batch-size", type=positive_int("--batch-size"), default=64)
    score.add_argument(
        "--errors",
        choices=("strict", "replace"),
        default="strict",
        help="invalid UTF-8: stop with an error naming the line (strict) or use U+FFFD",
    )
    score.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    score.add_argument(
        "--rerank",
        action="store_true",
        help="input is an n-best list ('N ||| text ||| score' lines, from translate --n-best); "
        "write the best text per sentence after adding --lm-weight x the LM log-probability",
    )
    score.add_argument(
        "--lm-weight", type=finite_float("--lm-weight"), default=0.2, help="with --rerank: the language model's weight"
    )
    score.set_defaults(handler="seq2seq.cli.lm:score")

    generate = lm_commands.add_parser("generate", help="sample text from a language model")
    generate.add_argument("--model", required=True, type=model_directory, help="language-model directory")
    generate.add_argument("--prompt", default="", help="text the samples continue")
    generate.add_argument(
        "--max-tokens",
        type=positive_int("--max-tokens", MAX_OUTPUT_TOKENS),
        default=50,
        help=f"tokens per sample (at most {MAX_OUTPUT_TOKENS:,})",
    )
    generate.add_argument("--temperature", type=positive_float("--temperature"), default=1.0)
    generate.add_argument(
        "--top-k", type=positive_int("--top-k"), default=None, help="sample only from the K most likely tokens"
    )
    generate.add_argument("--seed", type=seed_number(), default=0, help="the same seed gives the same samples")
    generate.add_argument(
        "--num-samples",
        type=positive_int("--num-samples", MAX_SAMPLES),
        default=1,
        help=f"samples drawn in one batch (at most {MAX_SAMPLES:,})",
    )
    generate.set_defaults(handler="seq2seq.cli.lm:generate")

    perception = commands.add_parser(
        "perception", help="speech recognition and image captioning: train, evaluate, ensemble"
    )
    perception_commands = perception.add_subparsers(
        dest="perception_command", required=True, metavar="PERCEPTION_COMMAND"
    )
    train = perception_commands.add_parser(
        "train", help="train (or resume) a speech recogniser or an image captioner from a YAML config"
    )
    config_arguments(train, "configs/speech_digits.yaml")
    train.set_defaults(handler="seq2seq.cli.perception:train")
    evaluate = perception_commands.add_parser(
        "evaluate", help="word error rate, exact match and BLEU of a perception model on its test data"
    )
    evaluate.add_argument("--model", required=True, type=model_directory, help="speech or captioning model directory")
    evaluate.add_argument("--beam", type=positive_int("--beam"), default=5, help="beam width (1: greedy)")
    evaluate.add_argument("--alpha", type=finite_float("--alpha"), default=0.0, help="length-penalty exponent")
    evaluate.add_argument("--batch-size", type=positive_int("--batch-size"), default=64)
    evaluate.add_argument("--output", help="also write report.json, report.md (and attention.png) into this folder")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    evaluate.set_defaults(handler="seq2seq.cli.perception:evaluate")
    ensemble = perception_commands.add_parser(
        "ensemble", help="one model directory that searches with several models at once (their mean probabilities)"
    )
    ensemble.add_argument(
        "models",
        nargs="+",
        type=model_directory,
        metavar="MODEL_DIR",
        help="perception model directories of one "
        "task and vocabulary; the first one's config.yaml goes with the ensemble",
    )
    ensemble.add_argument("--output", required=True, help="the new model directory")
    ensemble.add_argument("--overwrite", action="store_true", help="replace an existing model directory there")
    ensemble.set_defaults(handler="seq2seq.cli.perception:ensemble")
    folds = perception_commands.add_parser(
        "cross-validate", help="leave-one-speaker-out: one speech model per held-out speaker, the mean word error rate"
    )
    config_arguments(folds, "configs/speech_digits.yaml")
    folds.add_argument("--speakers", help="comma-separated test speakers (default: every speaker)")
    folds.add_argument("--beam", type=positive_int("--beam"), default=5, help="beam width of the scoring")
    folds.set_defaults(handler="seq2seq.cli.perception:cross_validate")
    for name, kind, handler in (("transcribe", "WAV recording", "transcribe"), ("caption", "image", "caption")):
        command = commands.add_parser(name, help=f"one line of words per {kind}, in the order given")
        command.add_argument(
            "--model",
            required=True,
            type=model_directory,
            help=f"{'speech' if name == 'transcribe' else 'captioning'} model directory",
        )
        command.add_argument("files", nargs="+", metavar="FILE", help=f"{kind} files")
        command.add_argument("--beam", type=positive_int("--beam"), default=5, help="beam width (1: greedy)")
        command.add_argument("--batch-size", type=positive_int("--batch-size"), default=64)
        command.set_defaults(handler=f"seq2seq.cli.perception:{handler}")

    train = commands.add_parser("train", help="train (or resume) a translation model from a YAML config")
    config_arguments(train, "configs/multi30k_de_en_gru_bahdanau.yaml")
    train.set_defaults(handler="seq2seq.cli.translation:train")

    add_arrays_commands(commands)
    add_finetune_command(commands)
    add_corpus_commands(commands)

    vocab = commands.add_parser("build-vocab", help="train the SentencePiece vocabularies of a config")
    config_arguments(vocab, "configs/multi30k_de_en_gru_bahdanau.yaml")
    vocab.add_argument("--overwrite", action="store_true", help="replace existing vocabularies")
    vocab.set_defaults(handler="seq2seq.cli.translation:build_vocab")

    average = commands.add_parser(
        "average-checkpoints", help="average the last K epoch checkpoints of a run into a new model"
    )
    average.add_argument("run_dir", help="the run folder of `seq2seq train` (its run_dir)")
    average.add_argument("--last", type=positive_int("--last"), default=5, help="how many checkpoints (K)")
    average.add_argument("-o", "--output", required=True, help="new model directory")
    average.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    average.add_argument(
        "--storage-dtype",
        choices=("float32", "float16"),
        default="float32",
        help="float16 halves model.keras (loading converts back to float32)",
    )
    average.set_defaults(handler="seq2seq.cli.translation:average_checkpoints")

    shortlist = commands.add_parser("shortlist", help="build a model's lexical shortlist for translate --shortlist")
    for option, text in (
        ("--model", "translation-model directory or name (shortlist.npz goes there)"),
        ("--source", "source side of training pairs"),
        ("--target", "target side, line by line"),
    ):
        shortlist.add_argument(option, required=True, help=text, type=model_directory if option == "--model" else str)
    for option, kind, default in (
        ("--per-source", positive_int, shortlists.PER_SOURCE),
        ("--frequent", count, shortlists.FREQUENT),
        ("--max-pairs", positive_int, shortlists.MAX_PAIRS),
    ):
        shortlist.add_argument(option, type=kind(option), default=default, help=f"(default {default})")
    shortlist.add_argument("--overwrite", action="store_true", help="replace an existing shortlist.npz")
    shortlist.set_defaults(handler="seq2seq.cli.translation:shortlist")

    ensemble = commands.add_parser("ensemble", help="one translation-model directory that searches with several models")
    ensemble.add_argument(
        "models", nargs="+", type=model_directory, metavar="MODEL", help="translation models sharing both vocabularies"
    )
    ensemble.add_argument("-o", "--output", required=True, help="the new model directory")
    ensemble.add_argument("--overwrite", action="store_true", help="replace an existing model directory there")
    ensemble.set_defaults(handler="seq2seq.cli.translation:ensemble")

    translate = commands.add_parser("translate", help="translate a text file, one sentence per line")
    translate.add_argument(
        "--model",
        type=model_directory,
        help="translation-model directory or installed model's name (default: general_de_en, the shipped model)",
    )
    translate.add_argument("input", nargs="?", default="-", help="text file (plain or .gz); - or absent: stdin")
    translate.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    translate.add_argument(
        "--n-best",
        type=positive_int("--n-best"),
        default=1,
        help="hypotheses per sentence; above 1 writes 'N ||| text ||| score' lines",
    )
    translate.add_argument(
        "--alignments",
        action="store_true",
        help="after each translation, ' ||| ' and its word alignment from the attention (Pharaoh: 0-0 1-2 ...)",
    )
    translate.add_argument(
        "--glossary",
        metavar="FILE",
        help="terminology: 'source term<TAB>target term' lines; each source term found (any case, whole words) "
        "puts its target term, as written, into the translation (constrained beam search)",
    )
    translate.add_argument(
        "--markup",
        action="store_true",
        help="lines hold inline XML/HTML tags (<b>, <a href>, <br/>) and {placeholders}: translate the text and "
        "put the tags back around the aligned words; the output is escaped markup",
    )
    translate.add_argument(
        "--errors",
        choices=("strict", "replace"),
        default="strict",
        help="invalid UTF-8: stop with an error naming the line (strict) or use U+FFFD",
    )
    translate.add_argument(
        "--split-sentences",
        action="store_true",
        help="lines are paragraphs: translate each sentence (long ones cut at clauses, not "
        "truncated), join them back onto the line; URLs, e-mail addresses and numbers "
        "are carried over unchanged",
    )
    decoding_arguments(translate)
    translate.set_defaults(handler="seq2seq.cli.translation:translate")

    evaluate = commands.add_parser("evaluate", help="BLEU, chrF2 and TER (sacrebleu) of a translation or a model")
    evaluate.add_argument("--hypothesis", help="an existing translation to score (no model needed)")
    evaluate.add_argument(
        "--model", type=model_directory, help="translation-model directory or name: translate --source, then score"
    )
    evaluate.add_argument("--source", help="source file to translate with --model")
    evaluate.add_argument(
        "--tfds",
        metavar="NAME",
        help="translate a tensorflow-datasets split with --model, "
        "e.g. wmt14_translate/de-en (must be prepared already), or folder:PATH",
    )
    evaluate.add_argument("--split", default="test", help="with --tfds: the split, e.g. test or validation[:500]")
    evaluate.add_argument("--tfds-data-dir", help="with --tfds: where tfds finds prepared datasets")
    evaluate.add_argument(
        "--reference",
        action="append",
        help="reference file (repeatable; not with --tfds, whose references come with it)",
    )
    evaluate.add_argument("--baseline", help="another system's translation: paired bootstrap comparison")
    evaluate.add_argument("--bootstrap-samples", type=positive_int("--bootstrap-samples"), default=1000)
    evaluate.add_argument("--report", help="write report.json and report.md into this new folder")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --report folder")
    decoding_arguments(evaluate)
    evaluate.set_defaults(handler="seq2seq.cli.evaluation:evaluate")

    export = commands.add_parser(
        "export",
        help="write a translation model as a TensorFlow SavedModel "
        "(text in, text out; tokenization and beam search in the graph)",
    )
    export.add_argument(
        "--model", type=model_directory, help="translation-model directory or name (default: the shipped model)"
    )
    export.add_argument("--output", "-o", required=True, help="new SavedModel directory")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export at --output")
    export.add_argument(
        "--max-source-tokens",
        type=positive_int("--max-source-tokens"),
        default=250,
        help="longer sources are truncated, as by translate",
    )
    export.set_defaults(handler="seq2seq.cli.serving:export")

    serve = commands.add_parser("serve", help="answer TensorFlow Serving's REST predict protocol with translations")
    serve.add_argument(
        "--model", type=model_directory, help="translation-model directory or name (default: the shipped model)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=port_number, default=8501, help="TCP port, 1-65535 (default: 8501)")
    serve.add_argument("--name", help="the model name in the URLs (default: the model folder's name)")
    for option, kind, default, text in (  # the server's limits (seq2seq.translation.batching.Limits)
        ("--max-sentences", positive_int, 64, "sentences per request; more answer 413"),
        ("--max-chars", positive_int, 2000, "characters per sentence; more answer 413"),
        ("--batch-window-ms", positive_float, 5.0, "how long a request waits for others to share its batch"),
        ("--max-queue", positive_int, 256, "sentences that may wait to start; a request past it answers 503"),
        ("--timeout", positive_float, 30.0, "seconds a request may take; work that cannot finish in time answers 504"),
        ("--header-timeout", positive_float, 10.0, "seconds to send a request head (and the body, each); then closed"),
        ("--grace-seconds", positive_float, 10.0, "on SIGTERM or Ctrl-C, how long requests in flight may finish"),
    ):
        serve.add_argument(option, type=kind(option), default=default, help=f"{text} (default: {default:g})")
    decoding_arguments(serve)
    serve.set_defaults(handler="seq2seq.cli.serving:serve")

    add_models_commands(commands)

    compare = commands.add_parser("compare", help="side-by-side Markdown table of evaluation reports")
    compare.add_argument("reports", nargs="+", metavar="REPORT", help="report.json files (or their folders)")
    compare.set_defaults(handler="seq2seq.cli.evaluation:compare")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns its exit status (2 for bad input, 130 when interrupted by Ctrl-C or SIGTERM).

    SIGTERM is handled as Ctrl-C: output files are written atomically, so an
    interrupted command leaves the previous output or none; an interrupted
    training run resumes from its last finished epoch (see the README's
    "What survives a kill").
    """
    import os
    import sys

    from seq2seq.backends import use_numpy_backend

    parser = build_parser()
    arguments = parser.parse_args(argv)
    if quick_backend(arguments) and "keras" not in sys.modules and "tensorflow" not in sys.modules:
        use_numpy_backend()
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        quiet_tensorflow()
    with sigterm_as_interrupt():
        return run(arguments)
