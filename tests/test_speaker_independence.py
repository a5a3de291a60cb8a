"""Speech for voices never heard: a validation speaker, level and noise perturbation, time masks, and
leave-one-speaker-out cross-validation."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run

from seq2seq.perception import digits

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"


def test_a_validation_speaker_is_out_of_training_and_validation_uses_only_them():
    found = digits.recordings(FSDD)
    train = digits.utterances(found, "train", 60, "theo", valid_speaker="george")
    valid = digits.utterances(found, "valid", 30, "theo", valid_speaker="george")
    assert {u.speaker for u in valid} == {"george"}
    assert {u.speaker for u in train} <= {"jackson", "lucas", "nicolas"}
    assert any(part.index < 5 for u in train for part in u.parts)  # every recording of the other speakers
    with pytest.raises(digits.UserError, match="valid_speaker='nobody'"):
        digits.split_recordings(found, "valid", "theo", "nobody")


def test_level_and_noise_perturbation_is_repeatable_and_keeps_the_signal_in_range():
    from seq2seq.perception.data import perturbed_levels

    rng = np.random.default_rng(0)
    waves = [0.1 * np.sin(np.arange(4000) / 5.0).astype(np.float32) * rng.uniform(0.2, 1) for _ in range(20)]
    louder = list(perturbed_levels(waves, seed=1, gain_db=(-20, 10)))
    assert all(np.array_equal(a, b) for a, b in zip(louder, perturbed_levels(waves, seed=1, gain_db=(-20, 10))))
    ratios = [float(np.max(np.abs(new)) / np.max(np.abs(old))) for new, old in zip(louder, waves)]
    assert 10 ** (-20 / 20) - 1e-4 <= min(ratios) and max(ratios) <= 10 ** (10 / 20) + 1e-4 and len(set(ratios)) > 10
    noisy = list(perturbed_levels(waves, seed=1, noise_snr_db=(10, 10)))
    for new, old in zip(noisy, waves):
        noise = new - old
        snr = 10 * np.log10(np.mean(old**2) / np.mean(noise**2))
        assert snr == pytest.approx(10, abs=0.5) and np.max(np.abs(new)) <= 1.0


def test_time_masks_hide_short_stretches_and_never_make_padding():
    from seq2seq.perception.data import time_masked

    frames = np.random.default_rng(1).normal(size=(200, 16)).astype(np.float32)
    masked = time_masked(frames, np.random.default_rng(2), 3)
    hidden = np.all(masked == np.float32(1e-6), axis=1)
    assert 0 < hidden.sum() <= 30 and np.all(np.any(masked != 0, axis=1))
    np.testing.assert_array_equal(masked, time_masked(frames, np.random.default_rng(2), 3))


def test_the_new_keys_are_checked_where_the_config_meets_the_code():
    from seq2seq.perception.config import PerceptionConfig, PerceptionDataConfig, PerceptionTrainingConfig

    with pytest.raises(ValueError, match="must name different speakers"):
        PerceptionConfig(data=PerceptionDataConfig(test_speaker="theo", valid_speaker="theo"))
    with pytest.raises(ValueError, match=r"data.gain_db.*\[low, high\]"):
        PerceptionConfig(data=PerceptionDataConfig(gain_db=(10.0, -10.0)))
    with pytest.raises(ValueError, match="data.noise_snr_db"):
        PerceptionConfig(data=PerceptionDataConfig(noise_snr_db=(5.0,)))
    with pytest.raises(ValueError, match="training.time_masks"):
        PerceptionConfig(
            data=PerceptionDataConfig(task="captions"),
            model={"encoder": {"input": "image"}},
            training=PerceptionTrainingConfig(time_masks=2),
        )


def test_silence_trimming_keeps_the_speech_frames_at_any_level():
    from pipelines.features import log_mel
    from seq2seq.perception.digits import read_wav

    speech = read_wav(FSDD / "recordings" / "4_theo_0.wav")  # theo: the quietest voice
    rng = np.random.default_rng(0)
    padded = np.concatenate([rng.normal(0, 1e-4, 4000), speech, rng.normal(0, 1e-4, 4000)]).astype(np.float32)
    plain = np.asarray(log_mel(padded, 40))
    trimmed = np.asarray(log_mel(padded, 40, trim_silence_db=40.0))
    assert len(plain) - len(trimmed) >= 90  # most of the added second of hum (100 frames) is gone
    assert len(trimmed) >= 0.8 * len(np.asarray(log_mel(speech, 40)))  # the word itself stays
    quieter = np.asarray(log_mel(padded * 0.01, 40, trim_silence_db=40.0))
    assert len(quieter) == len(trimmed)  # relative to the utterance: the same cut 40 dB quieter
    silent = np.zeros(4000, np.float32)
    assert len(np.asarray(log_mel(silent, 40, trim_silence_db=40.0))) == len(np.asarray(log_mel(silent, 40)))


def test_transcribe_trims_as_the_model_was_trained(tmp_path):
    from types import SimpleNamespace

    from seq2seq import config as config_lib
    from seq2seq.perception.config import PerceptionConfig, PerceptionDataConfig
    from seq2seq.perception.inputs import read_recording

    encoder = SimpleNamespace(features=40)
    path = FSDD / "recordings" / "4_theo_0.wav"
    speech = Path(__file__).resolve().parents[1] / "configs" / "speech_digits.yaml"
    trimmed = read_recording(str(path), encoder, config_lib.load(PerceptionConfig, speech, ["data.trim_silence_db=30"]))
    untrimmed = read_recording(str(path), encoder, config_lib.load(PerceptionConfig, speech))
    assert len(trimmed) < len(untrimmed)
    with pytest.raises(ValueError, match="data.trim_silence_db"):
        PerceptionConfig(
            data=PerceptionDataConfig(task="captions", trim_silence_db=30.0), model={"encoder": {"input": "image"}}
        )


def test_folds_rotate_the_validation_speaker_and_refuse_unknown_speakers():
    from seq2seq import config as config_lib
    from seq2seq.evaluation.cross_validation import folds
    from seq2seq.perception.config import PerceptionConfig

    root = Path(__file__).resolve().parents[1]
    config = config_lib.load(PerceptionConfig, root / "configs/speech_digits.yaml", [f"data.dir={FSDD}"])
    assert folds(config) == [
        ("george", "jackson"),
        ("jackson", "lucas"),
        ("lucas", "nicolas"),
        ("nicolas", "theo"),
        ("theo", "george"),
    ]
    with pytest.raises(digits.UserError, match="--speakers: nobody not among"):
        folds(config, ["nobody"])


@pytest.mark.slow
def test_cross_validation_trains_and_scores_each_fold_once(tmp_path, capsys):
    config = tmp_path / "speech.yaml"
    config.write_text(f"""
data: {{task: speech, dir: {FSDD}, train_examples: 32, valid_examples: 8, test_examples: 8, mel_bins: 16,
        gain_db: [-10, 5], noise_snr_db: [20, 40]}}
model:
  embedding_dim: 8
  encoder: {{input: audio, frame_stack: 2, cell: gru, units: 8, bidirectional: true}}
  decoder: {{cell: gru, units: 16}}
  attention_units: 8
training: {{epochs: 1, batch_size: 16, mixed_precision: float32, time_masks: 2}}
run_dir: {tmp_path / "cv"}
""")
    argv = ["perception", "cross-validate", config, "--speakers", "theo,george", "--beam", "1"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    summary = json.loads((tmp_path / "cv" / "cross_validation.json").read_text())
    assert [(row["test_speaker"], row["valid_speaker"]) for row in summary["folds"]] == [
        ("theo", "george"),
        ("george", "jackson"),
    ]
    assert summary["mean_single_wer"] == pytest.approx(np.mean([row["single_wer"] for row in summary["folds"]]))
    assert "| mean |" in out and (tmp_path / "cv" / "fold-theo" / "report.json").is_file()
    trained = (tmp_path / "cv" / "fold-theo" / "history.csv").read_text()
    assert run(capsys, *argv)[0] == 0  # again: scored again, not trained again
    assert (tmp_path / "cv" / "fold-theo" / "history.csv").read_text() == trained
