"""The speech and image commands: `perception train`, `evaluate`, `ensemble`, `transcribe`, `caption`."""

from __future__ import annotations

import sys

from seq2seq import config as config_lib
from seq2seq.errors import UserError


def train(arguments) -> int:
    from seq2seq.perception.config import PerceptionConfig
    from seq2seq.perception.training import train_perception_model

    config = config_lib.load(PerceptionConfig, arguments.config, arguments.overrides)
    train_perception_model(config)
    return 0


def cross_validate(arguments) -> int:
    from seq2seq.evaluation.cross_validation import cross_validate as run_folds
    from seq2seq.evaluation.cross_validation import markdown
    from seq2seq.perception.config import PerceptionConfig

    config = config_lib.load(PerceptionConfig, arguments.config, arguments.overrides)
    speakers = [name.strip() for name in arguments.speakers.split(",")] if arguments.speakers else None
    sys.stdout.write(markdown(run_folds(config, speakers, arguments.beam)))
    return 0


def evaluate(arguments) -> int:
    from seq2seq.cli.evaluation import check_report_folder
    from seq2seq.evaluation.recognition import SCHEMA, evaluate_model, markdown
    from seq2seq.evaluation.reports import write_report

    if arguments.output:  # before any work: a new folder, or an earlier perception report with --overwrite
        check_report_folder(arguments.output, arguments.overwrite, SCHEMA)
    report, figures = evaluate_model(arguments.model, arguments.beam, arguments.alpha, arguments.batch_size)
    text = markdown(report)
    if arguments.output:
        write_report(arguments.output, report, overwrite=True, figures=figures, text=text)
        print(f"report written to {arguments.output}/report.md and report.json", file=sys.stderr)
    sys.stdout.write(text)
    return 0


def ensemble(arguments) -> int:
    """Writes one perception-model directory whose model is the ensemble of the given ones (members flattened)."""
    from pathlib import Path

    from seq2seq.model_dirs import check_new_model_directory, load_perception_model, save_perception_model, saved_config
    from seq2seq.models.ensemble import Ensemble, input_of, members_of
    from seq2seq.perception.config import PerceptionConfig

    output = Path(arguments.output)
    check_new_model_directory(output, arguments.overwrite)
    members, first = [], arguments.models[0]
    vocab, config = None, saved_config(first, PerceptionConfig)
    if config is None:
        raise UserError(f"{first}: no config.yaml; the ensemble takes its data settings from the first model's.")
    for directory in arguments.models:
        model, words = load_perception_model(directory)
        if vocab is not None and words.tokens != vocab.tokens:
            raise UserError(
                f"{directory}/vocab.json: differs from {first}/vocab.json; ensemble members must share one vocabulary."
            )
        if members and input_of(model) != input_of(members[0]):
            raise UserError(
                f"{directory}: reads {input_of(model)}, but {first} reads {input_of(members[0])}; "
                "ensemble members must read the same input."
            )
        own = saved_config(directory, PerceptionConfig)
        if own is not None and (own.data.task, own.data.test_speaker) != (config.data.task, config.data.test_speaker):
            raise UserError(
                f"{directory}: trained for {own.data.task} with test speaker {own.data.test_speaker!r}, "
                f"{first} for {config.data.task} with {config.data.test_speaker!r}; an ensemble of "
                "them would have seen its own test data."
            )
        for key in ("normalize_level", "trim_silence_db"):
            if own is not None and getattr(own.data, key) != getattr(config.data, key):
                raise UserError(
                    f"{directory}: data.{key} is {getattr(own.data, key)}, in {first} "
                    f"{getattr(config.data, key)}; ensemble members must compute the same features."
                )
        vocab = words
        members.extend(members_of(model))
    if len(members) < 2:
        raise UserError("an ensemble needs at least two models; name two or more model directories.")
    save_perception_model(output, Ensemble(members, name="ensemble"), vocab, config)
    print(f"{len(members)} models ensembled into {output}", file=sys.stderr)
    return 0


def _decode_files(arguments, task: str) -> int:
    """One output line per input file, in order; a file that cannot be read gets an empty line and an error."""
    from seq2seq.perception.recognizer import Recognizer

    recognizer = Recognizer.load(arguments.model, beam_size=arguments.beam)
    if recognizer.task != task:
        raise UserError(f"{arguments.model}: a model that reads {recognizer.task}, not {task}.")
    inputs, failed = {}, 0
    for index, path in enumerate(arguments.files):
        try:
            inputs[index] = recognizer.read(path)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
    indices = sorted(inputs)
    outputs = (
        dict(zip(indices, recognizer.decode([inputs[i] for i in indices], arguments.batch_size))) if indices else {}
    )
    for index in range(len(arguments.files)):
        print(outputs.get(index, ""), flush=False)
    sys.stdout.flush()
    if failed:
        print(f"{failed} of {len(arguments.files)} files could not be read (their lines are empty)", file=sys.stderr)
        return 2
    return 0


def transcribe(arguments) -> int:
    return _decode_files(arguments, "audio")


def caption(arguments) -> int:
    return _decode_files(arguments, "image")
