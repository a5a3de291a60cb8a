"""Ensembles: the mean of the members' distributions, searched like one model, saved and loaded as one."""

import keras
import numpy as np
import pytest
from helpers import speech_model_dir, untrained_audio_model, wav_files

from pipelines.features import log_mel
from seq2seq.cli import main
from seq2seq.core.searcher import Searcher
from seq2seq.model_dirs import load_perception_model
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.models.ensemble import Ensemble
from seq2seq.perception.digits import read_wav
from seq2seq.perception.recognizer import Recognizer

SMALL = {"cell": "lstm", "units": 16, "num_layers": 1}


def token_model(seed: int, vocab_size: int = 12) -> Seq2SeqModel:
    keras.utils.set_random_seed(seed)
    model = Seq2SeqModel(
        vocab_size,
        vocab_size,
        embedding_dim=8,
        encoder=SMALL,
        decoder={"cell": "gru", "units": 16},
        attention="bahdanau",
        attention_units=8,
    )
    model.build()
    return model


SOURCES = np.array([[4, 5, 6, 7, 0, 0], [8, 9, 10, 11, 4, 5], [6, 6, 0, 0, 0, 0]], np.int32)


def test_each_step_is_the_mean_of_the_members_probabilities():
    first, second = token_model(1), token_model(2)
    ensemble = Ensemble([first, second])
    tokens = np.array([1, 5, 9], np.int32)
    context, carry, _ = ensemble.encode(SOURCES)
    log_probs, new_carry = ensemble.decode_step(tokens, carry, context)
    members = [m.decode_step(tokens, c, x)[0] for m, c, x in zip((first, second), carry, context)]
    expected = (np.exp(np.asarray(members[0])) + np.exp(np.asarray(members[1]))) / 2
    np.testing.assert_allclose(np.exp(np.asarray(log_probs)), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.exp(np.asarray(log_probs)).sum(axis=-1), 1.0, rtol=1e-5)
    assert not np.allclose(np.asarray(members[0]), np.asarray(members[1]), atol=1e-3)  # the members differ
    assert len(new_carry) == 2
    # The training-time call agrees with the steps: log of the mean softmax.
    logits = ensemble({"source_ids": SOURCES, "target_inputs": tokens[:, None]})
    np.testing.assert_allclose(np.asarray(logits)[:, 0], np.asarray(log_probs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("beam_size, compact_every", [(1, None), (3, None), (3, 2)])
def test_a_model_ensembled_with_itself_searches_as_the_model_alone(beam_size, compact_every):
    model = token_model(3)
    alone = Searcher(model, eos_id=3, beam_size=beam_size, compact_every=compact_every).search(SOURCES)
    twice = Searcher(Ensemble([model, model]), eos_id=3, beam_size=beam_size, compact_every=compact_every).search(
        SOURCES
    )
    np.testing.assert_array_equal(twice["tokens"], alone["tokens"])
    np.testing.assert_allclose(twice["scores"], alone["scores"], rtol=1e-4, atol=1e-4)


def test_members_must_share_outputs_and_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        Ensemble([token_model(1)])
    with pytest.raises(ValueError, match="one output vocabulary"):
        Ensemble([token_model(1, 12), token_model(2, 13)])
    with pytest.raises(ValueError, match="same input"):
        Ensemble([untrained_audio_model(1, 12, features=16), untrained_audio_model(2, 12, features=20)])
    Ensemble(
        [untrained_audio_model(1, 12, frame_stack=2), untrained_audio_model(2, 12, frame_stack=3)]
    )  # architecture may differ


# The command, on untrained speech models (their outputs are arbitrary but deterministic)


@pytest.mark.slow  # trains two speech models
def test_ensemble_command_writes_a_model_directory_that_transcribe_reads(tmp_path, capsys):
    first, second = speech_model_dir(tmp_path, "a", 1), speech_model_dir(tmp_path, "b", 2, frame_stack=3)
    assert main(["perception", "ensemble", str(first), str(second), "--output", str(tmp_path / "both")]) == 0
    assert "2 models ensembled" in capsys.readouterr().err
    loaded, vocab = load_perception_model(tmp_path / "both")
    assert isinstance(loaded, Ensemble) and len(loaded.members) == 2
    members = [load_perception_model(folder)[0] for folder in (first, second)]
    for member, copy in zip(members, loaded.members):
        for left, right in zip(member.get_weights(), copy.get_weights()):
            np.testing.assert_array_equal(left, right)
    files = wav_files(tmp_path)
    frames = [np.asarray(log_mel(read_wav(path), 16)) for path in files]
    expected = Recognizer(Ensemble(members), vocab, beam_size=2).decode(frames)
    assert main(["transcribe", "--model", str(tmp_path / "both"), "--beam", "2", *files]) == 0
    assert capsys.readouterr().out.split("\n")[:-1] == expected
    # An ensemble of an ensemble and a model flattens to three members.
    assert (
        main(["perception", "ensemble", str(tmp_path / "both"), str(first), "--output", str(tmp_path / "three")]) == 0
    )
    assert len(load_perception_model(tmp_path / "three")[0].members) == 3


def test_ensemble_command_refuses_what_would_mislead(tmp_path, capsys):
    first = speech_model_dir(tmp_path, "a", 1)
    cases = [
        ([str(first)], "at least two models"),
        (
            [str(first), str(speech_model_dir(tmp_path, "other_words", 2, words=["x", "y", "z"]))],
            "share one vocabulary",
        ),
        (
            [str(first), str(speech_model_dir(tmp_path, "jackson", 3, test_speaker="jackson"))],
            "would have seen its own test data",
        ),
        (
            [str(first), str(speech_model_dir(tmp_path, "level", 4, normalize_level=True))],
            "must compute the same features",
        ),
        ([str(first), str(tmp_path / "missing")], "model directory not found"),
    ]
    for models, message in cases:
        assert main(["perception", "ensemble", *models, "--output", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    assert main(["perception", "ensemble", str(first), str(first), "--output", str(tmp_path / "out")]) == 2
    assert "--overwrite" in capsys.readouterr().err
