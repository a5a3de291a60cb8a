"""Validation BLEU during training, best-by-BLEU export, early stopping on BLEU, checkpoint averaging."""

import json

import keras
import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from seq2seq.callbacks import KeepBest, ValidationScore, epoch_checkpoints
from seq2seq.cli import main
from seq2seq.core.decoding import DecodingOptions

REFERENCES = ["a dog runs in the park .", "two men play football on the grass ."]
# Scripted hypotheses per evaluation: BLEU rises, falls, ties, then rises again.
SCRIPT = [
    ["a dog", "two men play ."],
    ["a dog runs in a garden .", "two men play on the grass ."],
    ["a dog runs in the", "two men"],
    ["a dog runs in a garden .", "two men play on the grass ."],
    REFERENCES,
]


def scripted_translate():
    calls = iter(SCRIPT)
    return lambda sources: next(calls)


def expected_scores():
    return [BLEU().corpus_score(hypotheses, [REFERENCES]).score for hypotheses in SCRIPT]


def test_best_improves_only_when_bleu_rises(tmp_path):
    scores = expected_scores()
    assert (
        scores[1] > scores[0] > 0
        and scores[2] < scores[1]
        and scores[3] == scores[1]
        and scores[4] == pytest.approx(100)
    )
    exported = []
    keep_best = KeepBest(
        lambda epoch, logs: exported.append((epoch, logs["val_bleu"])),
        tmp_path / "best.json",
        monitor="val_bleu",
        mode="max",
    )
    bleu = ValidationScore(
        scripted_translate(),
        [("dev", ["quelle"] * 2, REFERENCES)],
        samples=1,
        log_file=tmp_path / "bleu.jsonl",
        print_fn=lambda text: None,
    )
    for epoch in range(len(SCRIPT)):
        logs = {}
        bleu.on_epoch_end(epoch, logs)
        keep_best.on_epoch_end(epoch, logs)
        assert logs["val_bleu"] == pytest.approx(scores[epoch])
    assert [epoch for epoch, _ in exported] == [0, 1, 4]
    assert [json.loads(line)["bleu"] for line in (tmp_path / "bleu.jsonl").read_text().splitlines()] == pytest.approx(
        scores
    )
    # A resumed run remembers the best BLEU: a lower score exports nothing.
    again = KeepBest(lambda epoch, logs: exported.append(epoch), tmp_path / "best.json", "val_bleu", "max")
    assert not again.offer(scores[1], 5) and again.offer(101.0, 6) and exported[-1] == 6


def test_mid_epoch_evaluations_offer_the_best(tmp_path):
    exported, calls = [], []
    keep_best = KeepBest(
        lambda epoch, logs: exported.append(logs["val_bleu"]), tmp_path / "best.json", monitor="val_bleu", mode="max"
    )
    translate = scripted_translate()
    bleu = ValidationScore(
        lambda sources: calls.append(1) or translate(sources),
        [("dev", ["quelle"] * 2, REFERENCES)],
        every_steps=2,
        keep_best=keep_best,
        print_fn=lambda text: None,
    )
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((4, 1)), np.zeros((4, 1)), batch_size=1, epochs=1, callbacks=[bleu], verbose=0)
    # Steps 2 and 4 evaluate mid-epoch; the epoch end reuses step 4's score instead of translating again.
    assert exported == pytest.approx(expected_scores()[:2]) and len(calls) == 2


def test_early_stopping_follows_validation_bleu():
    bleu = ValidationScore(scripted_translate(), [("dev", ["quelle"] * 2, REFERENCES)], print_fn=lambda text: None)
    stop = keras.callbacks.EarlyStopping(monitor="val_bleu", mode="max", patience=2)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.zeros((2, 1)), np.zeros((2, 1)), epochs=5, callbacks=[bleu, stop], verbose=0)
    # Best at epoch 2; epochs 3 and 4 do not beat it, so training stops after epoch 4 of 5.
    assert len(history.history["loss"]) == 4
    assert history.history["val_bleu"] == pytest.approx(expected_scores()[:4])


def test_training_logs_validation_bleu_and_keeps_checkpoints(toy_translation_dir):
    run_dir = toy_translation_dir.parent
    lines = [json.loads(line) for line in (run_dir / "validation_bleu.jsonl").read_text().splitlines()]
    assert len(lines) == 80 and lines[-1]["bleu"] == pytest.approx(100)
    metrics = json.loads((toy_translation_dir / "metrics.json").read_text())
    best = max(line["bleu"] for line in lines)
    assert metrics["valid_bleu"] == best and metrics["epoch"] == next(
        entry["epoch"] for entry in lines if entry["bleu"] == best
    )
    header = (run_dir / "history.csv").read_text().splitlines()[0].split(",")
    assert "val_bleu" in header and (toy_translation_dir / "history.csv").exists()
    assert [path.name for path in epoch_checkpoints(run_dir / "checkpoints")] == [
        f"epoch-{epoch:03d}.weights.h5" for epoch in range(76, 81)
    ]


def test_average_checkpoints(toy_translation_dir, tmp_path, capsys):
    from seq2seq.model_dirs import load_translation_model
    from seq2seq.models.encoder_decoder import build_model

    run_dir = toy_translation_dir.parent
    output = tmp_path / "averaged"
    assert main(["average-checkpoints", str(run_dir), "--last", "3", "-o", str(output)]) == 0
    assert "epoch-078.weights.h5, epoch-079.weights.h5, epoch-080.weights.h5" in capsys.readouterr().out
    averaged, source, target = load_translation_model(output)
    model = build_model(_config(run_dir).model, len(source), len(target))
    model.build()
    expected = []
    for path in epoch_checkpoints(run_dir / "checkpoints")[-3:]:
        model.load_weights(str(path))
        expected.append(model.get_weights())
    for got, *parts in zip(averaged.get_weights(), *expected):
        np.testing.assert_allclose(got, np.mean(parts, axis=0), rtol=1e-6, atol=1e-7)
    assert main(["average-checkpoints", str(run_dir), "--last", "3", "-o", str(output)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["average-checkpoints", str(run_dir), "--last", "9", "-o", str(tmp_path / "x")]) == 2
    assert "5 epoch checkpoints, fewer than --last 9" in capsys.readouterr().err
    assert main(["average-checkpoints", str(tmp_path), "-o", str(tmp_path / "y")]) == 2
    assert "config.yaml is missing" in capsys.readouterr().err


def _config(run_dir):
    from seq2seq import config as config_lib
    from seq2seq.translation.config import TranslationConfig

    return config_lib.load(TranslationConfig, run_dir / "config.yaml")


def test_validation_bleu_config_errors(tmp_path):
    from helpers import toy_translation_config

    from seq2seq.errors import UserError

    with pytest.raises(UserError, match="select_by"):
        toy_translation_config(tmp_path, validation_bleu=False)
    with pytest.raises(UserError, match="bleu_every_steps"):
        toy_translation_config(tmp_path, validation_bleu=False, select_by="loss", bleu_every_steps=10)
    with pytest.raises(UserError, match="do not go together"):
        toy_translation_config(tmp_path, bleu_every_steps=10, ema_momentum=0.99)
    toy_translation_config(tmp_path, validation_bleu=False, select_by="loss")


def test_a_best_kept_by_another_measure_is_not_compared(tmp_path):
    (tmp_path / "best.json").write_text(json.dumps({"best": 2.5, "monitor": "val_loss", "epoch": 3}))
    exported = []
    keep_best = KeepBest(lambda epoch, logs: exported.append(epoch), tmp_path / "best.json", "val_bleu", "max")
    assert keep_best.offer(1.0, 4) and exported == [4]  # a BLEU of 1 is not compared with a loss of 2.5


@pytest.mark.slow
def test_selection_by_loss_ignores_mid_epoch_bleu(tmp_path):
    from helpers import toy_translation_config

    from seq2seq.translation.training import train_translation_model

    train_translation_model(toy_translation_config(tmp_path, epochs=3, select_by="loss", bleu_every_steps=2))
    best = json.loads((tmp_path / "best.json").read_text())
    history = (tmp_path / "history.csv").read_text().splitlines()
    losses = [float(row.split(",")[history[0].split(",").index("val_loss")]) for row in history[1:]]
    assert best["monitor"] == "val_loss" and best["best"] == pytest.approx(min(losses))
    assert len((tmp_path / "validation_bleu.jsonl").read_text().splitlines()) >= 4  # mid-epoch and epoch ends


def test_float16_storage_halves_the_file_and_loads_as_float32(toy_translation_dir, tmp_path):
    from seq2seq.model_dirs import load_translation_model
    from seq2seq.translation.translator import Translator

    run_dir = toy_translation_dir.parent
    for dtype in ("float32", "float16"):
        assert (
            main(
                [
                    "average-checkpoints",
                    str(run_dir),
                    "--last",
                    "2",
                    "-o",
                    str(tmp_path / dtype),
                    "--storage-dtype",
                    dtype,
                ]
            )
            == 0
        )
    sizes = {dtype: (tmp_path / dtype / "model.keras").stat().st_size for dtype in ("float32", "float16")}
    assert json.loads((tmp_path / "float16" / "manifest.json").read_text())["storage_dtype"] == "float16"
    full, source, target = load_translation_model(tmp_path / "float32")
    assert sizes["float32"] - sizes["float16"] >= 0.95 * 2 * full.count_params()  # 2 bytes saved per weight
    half, _, _ = load_translation_model(tmp_path / "float16")
    assert half.dtype_policy.name == "float32" and all(w.dtype == "float32" for w in half.weights)
    for a, b in zip(full.get_weights(), half.get_weights()):
        np.testing.assert_allclose(b, a.astype("float16").astype("float32"))
    lines = ["ein hund läuft im park .", "zwei kinder spielen im garten ."]
    assert [h[0].text for h in Translator(half, source, target, DecodingOptions(beam_size=1)).translate(lines)] == [
        h[0].text for h in Translator(full, source, target, DecodingOptions(beam_size=1)).translate(lines)
    ]
