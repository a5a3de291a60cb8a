"""Speech recognition and image captioning: features, the two encoders on the shared decoder, the commands."""

import dataclasses
import json
import wave
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import run

from pipelines.features import log_mel
from seq2seq.cli import main
from seq2seq.core.searcher import Searcher
from seq2seq.core.vocabulary import Vocabulary
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.models.encoders import AudioEncoder, ImageEncoder
from seq2seq.perception import digits
from seq2seq.perception.recognizer import Recognizer, pad
from seq2seq.perception.scenes import draw, scenes

FSDD = Path(__file__).parents[2] / "shared" / "data" / "fsdd"
needs_fsdd = pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason=f"FSDD not found at {FSDD}")
SMALL = {"cell": "lstm", "units": 32, "num_layers": 1}


def tone(frequencies, seconds=0.2, rate=8000):
    """A waveform of consecutive sine tones, one per frequency, with 50 ms of silence around each."""
    t = np.arange(int(seconds * rate)) / rate
    silence = np.zeros(rate // 20, np.float32)
    pieces = [silence]
    for frequency in frequencies:
        pieces += [(0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), silence]
    return np.concatenate(pieces)


# Features and masking


def test_log_mel_frames_every_10_ms_normalised_and_never_all_zero():
    samples = tone([440, 880], seconds=0.5)  # 1.15 s
    frames = np.asarray(log_mel(samples, mel_bins=24))
    assert frames.shape == (int(np.ceil(len(samples) / 80)), 24)
    np.testing.assert_allclose(frames.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(frames.std(axis=0), 1.0, atol=1e-2)
    assert np.all(np.any(frames != 0, axis=1))  # all-zero frames mean padding, so no real frame is one
    assert np.asarray(log_mel(np.zeros(5, np.float32))).shape[0] >= 1  # shorter than a window


def test_normalize_level_makes_the_frames_independent_of_the_recording_level():
    loud = tone([400, 1500])
    quiet = 0.02 * loud  # 34 dB quieter
    np.testing.assert_allclose(
        np.asarray(log_mel(quiet, 16, normalize_level=True)),
        np.asarray(log_mel(loud, 16, normalize_level=True)),
        atol=1e-3,
    )
    assert not np.allclose(np.asarray(log_mel(quiet, 16)), np.asarray(log_mel(loud, 16)), atol=1e-2)
    silent = np.asarray(log_mel(np.zeros(800, np.float32), 16, normalize_level=True))
    assert np.isfinite(silent).all()  # an all-zero waveform stays zero: no division by a zero peak


def test_transcribe_computes_the_features_as_the_model_was_trained(tmp_path, capsys):
    from helpers import speech_model_dir

    from seq2seq.model_dirs import load_perception_model

    # 16-bit samples, the quiet file exactly 1/16 of the loud one (24 dB): a power of two, so peak
    # normalisation gives bitwise-equal waveforms and the comparison is exact.
    quiet = np.round(2000 * np.sin(np.arange(3000) / 4) * np.hanning(3000)).astype("<i2")
    files = [str(tmp_path / "loud.wav"), str(tmp_path / "quiet.wav")]
    write_wav(files[0], (quiet * 16).astype("<i2").tobytes())
    write_wav(files[1], quiet.tobytes())
    level = speech_model_dir(tmp_path, "level", seed=5, normalize_level=True)
    expected = Recognizer(*load_perception_model(level), beam_size=1).decode(
        [np.asarray(log_mel(digits.read_wav(path), 16, normalize_level=True)) for path in files]
    )
    code, out, _ = run(capsys, "transcribe", "--model", str(level), "--beam", "1", *files)
    assert code == 0 and out.split("\n")[:-1] == expected
    assert expected[0] == expected[1]  # the level no longer matters


@pytest.mark.parametrize("frame_stack", [1, 3])
def test_audio_encoder_masks_padding_frames(frame_stack):
    encoder = AudioEncoder(features=8, frame_stack=frame_stack, embedding_dim=16, rnn=SMALL)
    encoder.build()
    long, short = np.random.default_rng(0).normal(size=(2, 10, 8)).astype(np.float32) + 0.1
    short = short[:7]
    memory, states, mask = encoder(pad([long, short]))
    steps = int(np.ceil(10 / frame_stack))
    assert memory.shape == (2, steps, 64) and mask.shape == (2, steps)
    assert np.asarray(mask).sum(axis=1).tolist() == [steps, int(np.ceil(7 / frame_stack))]
    alone_memory, alone_states, _ = encoder(short[None])
    kept = int(np.ceil(7 / frame_stack))
    np.testing.assert_allclose(np.asarray(memory)[1, :kept], np.asarray(alone_memory)[0, :kept], atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(encoder.summary(states))[1], np.asarray(encoder.summary(alone_states))[0], atol=1e-5
    )


def test_augmented_frames_keep_their_shape_are_repeatable_and_never_look_like_padding():
    from seq2seq.perception.data import augment

    frames = np.asarray(log_mel(tone([440, 1200, 2500]), mel_bins=20))
    variant = augment(frames, np.random.default_rng(5))
    assert variant.shape == frames.shape and variant.dtype == np.float32
    np.testing.assert_array_equal(variant, augment(frames, np.random.default_rng(5)))
    assert not np.array_equal(variant, augment(frames, np.random.default_rng(6)))
    assert not np.array_equal(variant, frames)
    assert np.all(np.any(variant != 0, axis=1))
    hidden = np.all(variant == 0, axis=0)  # the masked bins, at most 2 x 6
    assert hidden.sum() <= 12


def test_speed_perturbation_resamples_each_utterance_to_one_of_three_speeds_repeatably():
    from seq2seq.perception.data import perturbed_speeds

    waves = [tone([500]) for _ in range(30)]
    lengths = [len(w) for w in perturbed_speeds(waves, seed=3)]
    assert lengths == [len(w) for w in perturbed_speeds(waves, seed=3)]
    n = len(waves[0])
    assert set(lengths) == {n, int(np.ceil(n * 10 / 9)), int(np.ceil(n * 10 / 11))}
    wider = {len(w) for w in perturbed_speeds(waves, seed=3, speeds=(0.8, 1.2))}
    assert wider == {int(np.ceil(n * 10 / 8)), int(np.ceil(n * 10 / 12))}


def test_speeds_are_checked_where_the_config_meets_the_code():
    from seq2seq.perception.config import PerceptionConfig, PerceptionDataConfig

    with pytest.raises(ValueError, match="data.speed_perturbation: true"):
        PerceptionConfig(data=PerceptionDataConfig(speeds=(0.8, 1.2)))
    with pytest.raises(ValueError, match="in tenths"):
        PerceptionConfig(data=PerceptionDataConfig(speed_perturbation=True, speeds=(0.85,)))
    with pytest.raises(ValueError, match="data.normalize_level"):
        PerceptionConfig(data=PerceptionDataConfig(task="captions", normalize_level=True))


def test_image_encoder_reads_a_grid_the_decoder_attends_over():
    encoder = ImageEncoder(image_size=64, channels=3, conv_filters=(8, 8, 8), embedding_dim=16, rnn=SMALL)
    encoder.build()
    images = np.stack([draw(scene) for scene in scenes("train", 2)])
    memory, _, mask = encoder(images)
    assert encoder.grid_shape == (8, 8)
    assert memory.shape == (2, 64, 64 + 8) and encoder.output_units == 72 and bool(np.all(mask))  # core + colour
    # The shape stream is colour-blind: the same shape in another colour gives the same core outputs.
    scene = scenes("train", 1)[0]
    recoloured = dataclasses.replace(
        scene,
        first=dataclasses.replace(
            scene.first,
            color=next(
                c for c in ("red", "green", "blue", "yellow") if c not in (scene.first.color, scene.second.color)
            ),
        ),
    )
    pair = np.stack([draw(scene), draw(recoloured)])
    outputs = np.asarray(encoder(pair)[0])
    np.testing.assert_allclose(outputs[0, :, :64], outputs[1, :, :64], atol=1e-6)
    assert not np.allclose(outputs[0, :, 64:], outputs[1, :, 64:])


# Both encoders feed the shared decoder: each overfits a handful of examples


def overfit(model, inputs, transcripts, vocab, steps):
    from seq2seq.core.likelihood import MaskedCrossEntropy

    ids = [vocab.encode(text) for text in transcripts]
    width = max(map(len, ids)) + 1
    decoder_inputs = np.zeros((len(ids), width), np.int32)
    targets = np.zeros((len(ids), width), np.int32)
    for row, sequence in enumerate(ids):
        decoder_inputs[row, : len(sequence) + 1] = [vocab.bos_id] + sequence
        targets[row, : len(sequence) + 1] = sequence + [vocab.eos_id]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=MaskedCrossEntropy())
    model.fit(
        {"source_features": inputs, "target_inputs": decoder_inputs},
        targets,
        epochs=steps,
        batch_size=len(ids),
        verbose=0,
    )
    return Recognizer(model, vocab, beam_size=1).decode(list(inputs))


@pytest.mark.slow
def test_audio_encoder_and_shared_decoder_overfit_tone_sequences():
    words = ["low", "mid", "high"]
    frequencies = {"low": 300, "mid": 900, "high": 2000}
    transcripts = ["low high", "mid", "high mid low", "low low", "high", "mid high"]
    frames = [np.asarray(log_mel(tone([frequencies[w] for w in text.split()]), mel_bins=16)) for text in transcripts]
    vocab = Vocabulary(words)
    model = Seq2SeqModel(
        0,
        len(vocab),
        embedding_dim=16,
        encoder=SMALL,
        decoder={"cell": "lstm", "units": 32},
        attention="bahdanau",
        attention_units=16,
        source={"input": "audio", "features": 16, "frame_stack": 2},
    )
    model.build()
    assert overfit(model, pad(frames), transcripts, vocab, steps=150) == transcripts


@pytest.mark.slow
def test_image_encoder_and_shared_decoder_overfit_scenes():
    chosen = scenes("train", 6, seed=3)
    transcripts = [scene.caption for scene in chosen]
    vocab = Vocabulary.build(transcripts)
    model = Seq2SeqModel(
        0,
        len(vocab),
        embedding_dim=16,
        encoder=SMALL,
        decoder={"cell": "lstm", "units": 48},
        attention="bahdanau",
        attention_units=16,
        source={"input": "image", "image_size": 64, "channels": 3, "conv_filters": [8, 16, 16]},
    )
    model.build()
    images = np.stack([draw(scene) for scene in chosen]).astype(np.float32)
    assert overfit(model, images, transcripts, vocab, steps=150) == transcripts


def test_one_graph_decodes_every_batch_shape_and_padding_changes_nothing():
    model = Seq2SeqModel(
        0,
        8,
        embedding_dim=8,
        encoder=SMALL,
        decoder={"cell": "lstm", "units": 16},
        attention="bahdanau",
        attention_units=8,
        source={"input": "audio", "features": 8},
    )
    model.build()
    searcher = Searcher(model, eos_id=3, max_length=6, input_spec=((None, None, 8), "float32"))
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(length, 8)).astype(np.float32) for length in (5, 9, 13)]
    together = searcher.search(pad(inputs))["tokens"]
    for row, item in enumerate(inputs):
        np.testing.assert_array_equal(searcher.search(item[None])["tokens"][0], together[row])
    assert searcher._compiled.experimental_get_tracing_count() == 1


# Utterances


@needs_fsdd
def test_utterances_are_deterministic_one_speaker_each_and_hold_the_test_speaker_out():
    found = digits.recordings(FSDD)
    train = digits.utterances(found, "train", 50, "theo", seed=4)
    assert [u.transcript for u in train] == [
        u.transcript for u in digits.utterances(found, "train", 50, "theo", seed=4)
    ]
    assert all(len({part.speaker for part in u.parts}) == 1 for u in train)
    assert all(part.speaker != "theo" and part.index >= 5 for u in train for part in u.parts)
    assert all(1 <= len(u.parts) <= 7 for u in train)
    test = digits.utterances(found, "test", 20, "theo")
    assert {u.speaker for u in test} == {"theo"}
    singles = digits.utterances(found, "test", None, "theo", single=True)
    assert len(singles) == 500 and len({u.parts[0].path for u in singles}) == 500
    assert all(400 <= pause <= 2000 for u in singles for pause in u.pauses)  # 50-250 ms, as in every utterance
    assert [u.transcript for u in train[:3]] != [u.transcript for u in digits.utterances(found, "train", 3, "theo")]
    one = train[0]
    assert len(one.waveform()) == sum(one.pauses) + sum(len(digits.read_wav(p.path)) for p in one.parts)


def write_wav(path, samples, rate=8000, width=2, channels=1):
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(samples)
    return path


def test_read_wav_resamples_mixes_down_and_refuses_what_it_cannot_read(tmp_path):
    samples = (np.sin(np.arange(1600) / 5) * 10000).astype("<i2")
    stereo = np.repeat(samples, 2)
    noted = []
    audio = digits.read_wav(write_wav(tmp_path / "s.wav", stereo.tobytes(), rate=16000, channels=2), noted.append)
    assert noted == [16000] and len(audio) == 800 and audio.dtype == np.float32
    np.testing.assert_allclose(digits.read_wav(write_wav(tmp_path / "m.wav", samples.tobytes())), samples / 32768.0)
    (tmp_path / "text.wav").write_text("hello")
    (tmp_path / "empty.wav").write_bytes(b"")
    whole = (tmp_path / "m.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])
    write_wav(tmp_path / "none.wav", b"")
    write_wav(tmp_path / "8bit.wav", b"\x80" * 100, width=1)
    for name, message in (
        ("text.wav", "not a WAV file"),
        ("empty.wav", "empty"),
        ("cut.wav", "truncated"),
        ("none.wav", "no samples"),
        ("8bit.wav", "8-bit samples"),
        ("gone.wav", "cannot read"),
    ):
        with pytest.raises(digits.UserError, match=message):
            digits.read_wav(tmp_path / name)


# The commands, on tiny trained models


def tiny_config(tmp_path, task: str) -> Path:
    encoder = "input: audio, frame_stack: 2" if task == "speech" else "input: image, conv_filters: [8, 16, 16]"
    path = tmp_path / f"{task}.yaml"
    path.write_text(f"""
data: {{task: {task}, dir: {FSDD}, train_examples: 64, valid_examples: 16, test_examples: 16, mel_bins: 16}}
model:
  embedding_dim: 16
  encoder: {{{encoder}, cell: lstm, units: 16, bidirectional: true}}
  decoder: {{cell: lstm, units: 32}}
  attention_units: 16
training: {{epochs: 2, batch_size: 16, mixed_precision: float32}}
run_dir: {tmp_path / task}
""")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`{task: model_dir}` of one tiny speech and one tiny captioning model, trained by the command."""
    if not (FSDD / "recordings").is_dir():
        pytest.skip(f"FSDD not found at {FSDD}")
    folder = tmp_path_factory.mktemp("perception")
    models = {}
    for task in ("speech", "captions"):
        assert main(["perception", "train", str(tiny_config(folder, task))]) == 0
        models[task] = folder / task / "model"
    return models


@pytest.mark.slow
def test_training_records_the_word_error_rate_and_resumes_without_redoing_epochs(trained, capsys):
    run_dir = trained["speech"].parent
    entries = [json.loads(line) for line in (run_dir / "validation_wer.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in entries] == [1, 2] and all(0 <= e["wer"] for e in entries)
    assert json.loads((trained["speech"] / "metrics.json").read_text())["val_wer"] == min(e["wer"] for e in entries)
    code, _, _ = run(capsys, "perception", "train", str(run_dir.parent / "speech.yaml"), "--set", "training.epochs=3")
    assert code == 0
    assert [json.loads(line)["epoch"] for line in (run_dir / "validation_wer.jsonl").read_text().splitlines()] == [
        1,
        2,
        3,
    ]


@pytest.mark.slow  # trains by the command (the `trained` fixture)
def test_transcribe_keeps_one_line_per_file_and_names_bad_files(trained, tmp_path, capsys):
    good = sorted((FSDD / "recordings").glob("*_theo_*.wav"))[:2]
    (tmp_path / "text.wav").write_text("not audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    write_wav(tmp_path / "fast.wav", (np.sin(np.arange(4000) / 3) * 8000).astype("<i2").tobytes(), rate=16000)
    files = [
        str(good[0]),
        str(tmp_path / "text.wav"),
        str(tmp_path / "fast.wav"),
        str(tmp_path / "empty.wav"),
        str(good[1]),
    ]
    code, out, err = run(capsys, "transcribe", "--model", str(trained["speech"]), *files)
    lines = out.split("\n")[:-1]
    assert code == 2 and len(lines) == 5
    assert lines[1] == "" and lines[3] == ""
    assert "text.wav: not a WAV file" in err and "empty.wav: the file is empty" in err
    assert "fast.wav: 16000 Hz, resampled to 8000 Hz" in err and "2 of 5 files" in err
    code, again, _ = run(capsys, "transcribe", "--model", str(trained["speech"]), str(good[0]), str(good[1]))
    assert code == 0 and again.split("\n")[:-1] == [lines[0], lines[4]]


@pytest.mark.slow  # trains by the command (the `trained` fixture)
def test_caption_keeps_one_line_per_image_and_names_bad_files(trained, tmp_path, capsys):
    from PIL import Image

    paths = []
    for index, scene in enumerate(scenes("test", 2)):
        paths.append(tmp_path / f"scene{index}.png")
        Image.fromarray(draw(scene)).save(paths[-1])
    (tmp_path / "broken.png").write_text("no image")
    Image.fromarray(draw(scenes("test", 1)[0])).resize((96, 96)).save(tmp_path / "big.png")
    files = [paths[0], tmp_path / "broken.png", paths[1], tmp_path / "missing.png", tmp_path / "big.png"]
    code, out, err = run(capsys, "caption", "--model", str(trained["captions"]), *map(str, files))
    lines = out.split("\n")[:-1]
    assert code == 2 and len(lines) == 5 and lines[1] == lines[3] == ""
    assert "broken.png: not a readable image" in err and "missing.png: file not found" in err
    assert "big.png: 96x96 pixels, resized to 64x64" in err


@pytest.mark.slow  # trains by the command (the `trained` fixture)
def test_saved_model_loads_and_decodes_as_the_trained_one(trained):
    from seq2seq.model_dirs import load_perception_model, save_perception_model

    model, vocab = load_perception_model(trained["captions"])
    images = [draw(scene) for scene in scenes("test", 5)]
    before = Recognizer(model, vocab).decode(images)
    copy = trained["captions"].parent / "copy"
    save_perception_model(copy, model, vocab)
    again, again_vocab = load_perception_model(copy)
    assert Recognizer(again, again_vocab).decode(images) == before
    for left, right in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(left, right)


@pytest.mark.slow
def test_evaluate_writes_word_error_rates_per_speaker_and_exact_match(trained, tmp_path, capsys):
    code, out, _ = run(
        capsys,
        "perception",
        "evaluate",
        "--model",
        str(trained["speech"]),
        "--beam",
        "1",
        "--output",
        str(tmp_path / "speech"),
    )
    report = json.loads((tmp_path / "speech" / "report.json").read_text())
    assert code == 0 and report["schema"] == "seq2seq-perception-report/1"
    assert set(report["scores"]) == {"test", "valid", "single"}
    assert set(report["scores"]["test"]["groups"]) == {"theo"}
    assert set(report["scores"]["valid"]["groups"]) <= {"george", "jackson", "lucas", "nicolas"}
    assert report["scores"]["single"]["examples"] == 500  # each of the held-out speaker's recordings
    assert "| single | theo | 500 |" in out
    code, _, _ = run(
        capsys, "perception", "evaluate", "--model", str(trained["captions"]), "--output", str(tmp_path / "captions")
    )
    report = json.loads((tmp_path / "captions" / "report.json").read_text())
    assert code == 0 and {"bleu", "exact_match", "wer"} <= set(report["scores"]["test"])
    assert report["figures"] == ["attention.png"] and (tmp_path / "captions" / "attention.png").stat().st_size > 1000
    code, _, err = run(
        capsys, "perception", "evaluate", "--model", str(trained["captions"]), "--output", str(tmp_path / "captions")
    )
    assert code == 2 and "--overwrite" in err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    code, _, err = run(
        capsys,
        "perception",
        "evaluate",
        "--model",
        str(trained["captions"]),
        "--output",
        str(tmp_path / "other"),
        "--overwrite",
    )
    assert code == 2 and (tmp_path / "other" / "notes.txt").read_text() == "keep me"  # not a report: kept
