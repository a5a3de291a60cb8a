"""The `seq2seq train`, `build-vocab`, `average-checkpoints` and `translate` commands."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

from seq2seq import config as config_lib
from seq2seq.cli.arguments import decoding_options
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write, check_output_path
from seq2seq.textio import arriving_lines, read_lines
from seq2seq.translation.glossary import MAX_TERMS


def _load_config(arguments):
    from seq2seq.translation.config import TranslationConfig

    return config_lib.load(TranslationConfig, arguments.config, arguments.overrides)


def train(arguments) -> int:
    from seq2seq.translation.training import train_translation_model

    train_translation_model(_load_config(arguments))
    return 0


def build_vocab(arguments) -> int:
    """`build-vocab`: trains the run folder's SentencePiece models.

    `--overwrite` replaces only vocabularies this command wrote (files that
    load as this toolkit's SentencePiece models), and only in a run folder
    that holds no training yet (no `backup/`, `checkpoints/` or `model/`:
    a model trained on the old vocabularies could not use new ones). The old
    files stay until the new ones are trained; the run folder is locked
    meanwhile, as by `train`.
    """
    from seq2seq.core.subwords import SubwordVocabulary
    from seq2seq.run_folder import locked
    from seq2seq.translation.data import build_vocabularies

    config = _load_config(arguments)
    run_dir = Path(config.run_dir)
    existing = [run_dir / name for name in ("source.spm", "target.spm") if (run_dir / name).exists()]
    if existing and not arguments.overwrite:
        raise UserError(
            f"{existing[0]} exists; pass --overwrite to train new vocabularies "
            "(a model trained on the old ones cannot use them)."
        )
    with locked(run_dir):
        for path in existing:
            SubwordVocabulary.load(path)  # a stranger's file is an error naming it; nothing is replaced
        trained = [run_dir / name for name in ("backup", "checkpoints", "model") if (run_dir / name).exists()]
        if existing and trained:
            raise UserError(
                f"{run_dir}: holds a training run ({trained[0].name}/); new vocabularies would not fit "
                "its weights, so --overwrite does not replace them. Use a new run_dir."
            )
        source, target = build_vocabularies(config, run_dir, retrain=bool(existing))
    print(f"wrote {run_dir / 'source.spm'} ({len(source)} pieces) and {run_dir / 'target.spm'} ({len(target)} pieces)")
    return 0


def average_checkpoints(arguments) -> int:
    from seq2seq.model_dirs import check_new_model_directory
    from seq2seq.translation.training import average_checkpoints as average

    output = Path(arguments.output)
    check_new_model_directory(output, arguments.overwrite)
    files = average(arguments.run_dir, arguments.last, output, arguments.storage_dtype)
    print(f"averaged {', '.join(path.name for path in files)} into {output}")
    return 0


def default_model() -> Path:
    """The shipped German-English model, for `translate`, `export` and `serve` without `--model`.

    Looked up by name as :mod:`seq2seq.catalog` says (the user's model
    folder, the source tree's saved_models/, the copy a wheel carries).
    """
    from seq2seq.catalog import DEFAULT_TRANSLATION_MODEL, resolve

    try:
        return resolve(DEFAULT_TRANSLATION_MODEL)
    except UserError as error:
        raise UserError(
            f"no --model given, and the default model is not installed ({error}). Pass --model DIR "
            "(a directory written by `seq2seq train`), or install one with `seq2seq models install`."
        ) from None


def make_translator(arguments, model, source_vocab, target_vocab, n_best: int = 1):
    """A `Translator` from the decoding options (`--beam`, `--alpha`, ..., `--temperature`, `--top-k`, `--lm`)."""
    from seq2seq.translation.translator import Translator

    sampling = arguments.temperature is not None or arguments.top_k is not None
    if sampling and arguments.beam != 1:
        raise UserError(
            f"--temperature and --top-k sample one translation per sentence; pass --beam 1 "
            f"(received --beam {arguments.beam})."
        )
    language_model = None
    if arguments.lm is not None:
        from seq2seq.model_dirs import load_language_model
        from seq2seq.translation.fusion import check_vocabularies

        language_model, lm_vocab = load_language_model(arguments.lm)
        check_vocabularies(lm_vocab, target_vocab, arguments.lm)
    shortlist = None
    if arguments.shortlist:
        from seq2seq.translation.shortlist import load_shortlist

        shortlist = load_shortlist(arguments.model or default_model(), model)
    return Translator(
        model,
        source_vocab,
        target_vocab,
        decoding_options(arguments, n_best=n_best),
        language_model=language_model,
        shortlist=shortlist,
    )


def shortlist(arguments) -> int:
    """`shortlist`: a model's lexical shortlist from its own attention on training pairs (see its module doc)."""
    from seq2seq.model_dirs import load_translation_model
    from seq2seq.textio import iterate_lines
    from seq2seq.translation.shortlist import FILE_NAME, build_shortlist, coverage_note, is_shortlist
    from seq2seq.translation.translator import stderr_progress

    path = Path(arguments.model) / FILE_NAME
    model, source_vocab, target_vocab = load_translation_model(arguments.model)
    if path.exists() and not arguments.overwrite:
        raise UserError(f"{path}: exists; pass --overwrite to replace it.")
    if path.exists() and not is_shortlist(path):
        raise UserError(
            f"{path}: exists and is not a shortlist written by seq2seq; --overwrite replaces only "
            "such a file. Move it away first."
        )
    pairs = []
    for source, target in itertools.zip_longest(iterate_lines(arguments.source), iterate_lines(arguments.target)):
        if source is None or target is None:
            raise UserError(
                f"--source {arguments.source} and --target {arguments.target}: one ends after line "
                f"{len(pairs)}, the other goes on; give the two sides of one corpus, line by line."
            )
        if len(pairs) == arguments.max_pairs:
            break
        pairs.append((source, target))
    update, close = stderr_progress(len(pairs), "aligning")
    started = time.perf_counter()
    try:
        built = build_shortlist(
            model, source_vocab, target_vocab, pairs, arguments.per_source, arguments.frequent, progress=update
        )
    finally:
        close()
    built.save(path)
    print(f"wrote {path} in {time.perf_counter() - started:.1f}s: {coverage_note(built)}")
    return 0


def translate_with_progress(
    translator, lines: list[str], batch_size: int, progress: bool = True, glossary=None, markup: bool = False
):
    """`(results, seconds)` of translating `lines`, with a progress bar on stderr when `progress`."""
    from seq2seq.translation.translator import stderr_progress

    update, close = stderr_progress(len(lines)) if progress else (None, lambda: None)
    started = time.perf_counter()
    try:
        results = translator.translate(lines, batch_size, update, glossary=glossary, markup=markup)
    finally:
        close()
    return results, time.perf_counter() - started


def check_markup(arguments, lines: list[str], first: int = 0) -> None:
    """With `--markup`, a `UserError` naming the input and line of the first line whose tags do not nest."""
    if arguments.markup:
        from seq2seq.translation.markup import parse

        name = "standard input" if arguments.input == "-" else arguments.input
        for number, line in enumerate(lines, start=first + 1):
            parse(line, f"{name}, line {number}")


def load_glossary(arguments):
    """The `--glossary` file's terms (None without one); a clear error for options it does not go with."""
    if not getattr(arguments, "glossary", None):
        return None
    from seq2seq.translation.glossary import Glossary

    if arguments.temperature is not None or arguments.top_k is not None or arguments.shortlist:
        raise UserError(
            "--glossary forces terms with beam search over the whole vocabulary; "
            "it does not go with --temperature, --top-k or --shortlist."
        )
    return Glossary.load(arguments.glossary)


def _translate_paragraphs(arguments, translator, lines: list[str]):
    """`(results, seconds)` for `--split-sentences`, in the shape `translate_with_progress` returns."""
    from seq2seq.model_dirs import saved_config
    from seq2seq.translation.config import TranslationConfig
    from seq2seq.translation.segments import translate_paragraphs
    from seq2seq.translation.translator import Hypothesis, stderr_progress

    config = saved_config(arguments.model or default_model(), TranslationConfig)
    language = config.data.source_language if config is not None else "de"
    started = time.perf_counter()
    texts = translate_paragraphs(
        translator,
        lines,
        language,
        arguments.batch_size,
        stderr_progress if arguments.input != "-" else None,
        glossary=arguments.glossary_terms,
    )
    return [[Hypothesis(text, 0.0, 0.0)] for text in texts], time.perf_counter() - started


def truncation_note(count: int, limit: int) -> str:
    return f"{count} source lines longer than {limit} subwords were truncated (--max-source-tokens)"


# Standard input is translated in groups of the lines that have arrived, at most this many batches a group.
STREAM_GROUP = 8


def write_translations(handle, results, n_best: int, first: int = 0, alignments=None) -> None:
    """Writes one line per sentence (`text ||| 0-0 1-1 ...` with `alignments`), or `N ||| text ||| score` lines
    with `n_best` (N counted from `first`)."""
    from seq2seq.translation.alignment import pharaoh

    for number, hypotheses in enumerate(results, start=first):
        if alignments is not None:
            handle.write(f"{hypotheses[0].text} ||| {pharaoh(alignments[number - first])}\n")
        elif n_best == 1:
            handle.write(hypotheses[0].text + "\n")
        else:
            for hypothesis in hypotheses:
                handle.write(f"{number} ||| {hypothesis.text} ||| {hypothesis.normalized_score:.4f}\n")


def translate(arguments) -> int:
    from seq2seq.model_dirs import load_translation_model

    if arguments.n_best > arguments.beam:
        raise UserError(f"--n-best ({arguments.n_best}) must not exceed --beam ({arguments.beam}).")
    if arguments.output:
        check_output_path(arguments.output)  # before any work
    if arguments.split_sentences and arguments.n_best > 1:
        raise UserError("--split-sentences writes one joined translation per line; it does not go with --n-best.")
    if arguments.markup and (arguments.split_sentences or arguments.alignments):
        raise UserError("--markup places tags within a sentence; not with --split-sentences or --alignments.")
    if arguments.alignments and (arguments.n_best > 1 or arguments.split_sentences):
        raise UserError(
            "--alignments writes one 'text ||| alignment' line per sentence; not with --n-best or --split-sentences."
        )
    arguments.glossary_terms = glossary = load_glossary(arguments)  # before the model: a bad line fails fast
    model, source_vocab, target_vocab = load_translation_model(arguments.model or default_model())
    translator = make_translator(arguments, model, source_vocab, target_vocab, n_best=arguments.n_best)
    if glossary is not None:
        glossary.check(target_vocab)

    def translated(lines: list[str]):
        if arguments.split_sentences:
            return _translate_paragraphs(arguments, translator, lines)
        return translate_with_progress(
            translator,
            lines,
            arguments.batch_size,
            progress=arguments.input != "-",
            glossary=glossary,
            markup=arguments.markup,
        )

    def aligned(lines: list[str], results):
        return translator.align(lines, [best.text for best in results]) if arguments.alignments else None

    if arguments.input == "-" and not arguments.output:  # a pipe or a terminal: each line as soon as it comes
        count, elapsed = 0, 0.0
        for group in arriving_lines(arguments.errors, STREAM_GROUP * arguments.batch_size):
            check_markup(arguments, group, count)
            results, seconds = translated(group)
            write_translations(sys.stdout, results, arguments.n_best, count, aligned(group, results))
            sys.stdout.flush()
            count, elapsed = count + len(group), elapsed + seconds
    else:
        lines = read_lines(arguments.input, errors=arguments.errors)
        check_markup(arguments, lines)
        results, elapsed = translated(lines)
        count, alignments = len(lines), aligned(lines, results)
        if arguments.output:
            with atomic_write(arguments.output) as handle:
                write_translations(handle, results, arguments.n_best, alignments=alignments)
        else:
            write_translations(sys.stdout, results, arguments.n_best, alignments=alignments)
            sys.stdout.flush()
    stats = translator.stats
    notes = []
    if stats.truncated:
        notes.append(truncation_note(stats.truncated, arguments.max_source_tokens))
    if stats.empty:
        notes.append(f"{stats.empty} empty lines gave empty translations")
    if stats.unmet:
        notes.append(f"{stats.unmet} translations miss a glossary term (they reached their length limit)")
    if stats.terms_left_out:
        notes.append(f"{stats.terms_left_out} glossary matches beyond {MAX_TERMS} in a sentence were not forced")
    print(
        f"translated {count} lines in {elapsed:.1f}s ({count / max(elapsed, 1e-9):.1f} "
        f"sentences/s, beam {arguments.beam}"
        + (f", {stats.terms} glossary terms forced" if glossary is not None else "")
        + ")"
        + "".join(f"; warning: {note}" for note in notes),
        file=sys.stderr,
    )
    return 0


def ensemble(arguments) -> int:
    """`ensemble`: one translation-model directory whose model is the mean of the given ones' (members flattened)."""
    from seq2seq.model_dirs import (
        check_new_model_directory,
        load_translation_model,
        save_translation_model,
        saved_config,
    )
    from seq2seq.models.ensemble import Ensemble, members_of
    from seq2seq.translation.config import TranslationConfig

    output = Path(arguments.output)
    check_new_model_directory(output, arguments.overwrite)
    members, first, vocabularies = [], arguments.models[0], None
    for directory in arguments.models:
        model, source, target = load_translation_model(directory)
        if vocabularies is not None and (source.model_proto, target.model_proto) != vocabularies:
            raise UserError(
                f"{directory}: its source.spm or target.spm differs from {first}'s; ensemble members must share "
                "both vocabularies (fine-tuned copies of one model do)."
            )
        vocabularies = source.model_proto, target.model_proto
        members.extend(members_of(model))
    if len(members) < 2:
        raise UserError("an ensemble needs at least two models; name two or more model directories.")
    save_translation_model(
        output, Ensemble(members, name="ensemble"), source, target, saved_config(first, TranslationConfig)
    )
    print(f"{len(members)} translation models ensembled into {output}", file=sys.stderr)
    return 0
