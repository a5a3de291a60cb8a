"""`DecodingOptions`: one set of defaults and ranges for the command line, the Translator and the export."""

import dataclasses

import pytest

from seq2seq.cli import build_parser
from seq2seq.cli.arguments import DECODING_FLAGS, decoding_options
from seq2seq.core.decoding import DecodingOptions
from seq2seq.errors import UserError


@pytest.mark.parametrize("command", [["translate"], ["serve"], ["evaluate", "--model", "m", "--source", "s"]])
def test_every_decoding_command_defaults_to_the_options_defaults(command):
    arguments = build_parser().parse_args(command)
    assert decoding_options(arguments) == DecodingOptions()


def test_the_command_line_range_is_the_fields_range(capsys):
    for name, flag in DECODING_FLAGS.items():
        high = dataclasses.fields(DecodingOptions)[[f.name for f in dataclasses.fields(DecodingOptions)].index(name)]
        maximum = high.metadata.get("maximum")
        if maximum is None:
            continue
        with pytest.raises(SystemExit):
            build_parser().parse_args(["translate", flag, str(maximum + 1)])
        assert f"{flag} must be at most" in capsys.readouterr().err
        with pytest.raises(ValueError, match=f"`{name}` must be at most"):
            DecodingOptions(**{name: maximum + 1})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"beam_size": 0}, "`beam_size` must be at least 1"),
        ({"temperature": 0.0, "beam_size": 1}, "`temperature` must be above 0"),
        ({"temperature": 0.7}, "needs beam_size=1"),
        ({"top_k": 5, "beam_size": 3}, "needs beam_size=1"),
        ({"n_best": 6}, "`n_best` must be at most `beam_size`"),
        ({"alpha": float("nan")}, "`alpha` must be a finite number"),
        ({"precision": "float16"}, "`precision` must be one of"),
        ({"max_length_offset": -1}, "`max_length_offset` must be at least 0"),
    ],
)
def test_bad_options_are_refused_when_built(changes, message):
    with pytest.raises(ValueError, match=message):
        DecodingOptions(**changes)


def test_options_are_frozen_and_replaced_with_checks():
    options = DecodingOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.beam_size = 3
    assert options.replace(beam_size=1, temperature=0.5).sampling
    with pytest.raises(ValueError):
        options.replace(n_best=9)


def test_a_bad_combination_on_the_command_line_names_the_options():
    arguments = build_parser().parse_args(["translate", "--beam", "2"])
    with pytest.raises(UserError, match="--n-best must be at most --beam"):
        decoding_options(arguments, n_best=3)


def test_the_export_signature_defaults_are_the_options_defaults():
    from seq2seq.translation.export import DEFAULTS

    defaults = DecodingOptions()
    assert DEFAULTS == {name: getattr(defaults, name) for name in DEFAULTS} and len(DEFAULTS) == 4
