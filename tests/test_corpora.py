"""Several corpora in one run: the config lists, weighted sampling, per-set validation BLEU."""

import csv
import json

import numpy as np
import pytest
import tensorflow as tf
from helpers import DATA, toy_translation_config
from sacrebleu.metrics import BLEU

from seq2seq import config as config_lib
from seq2seq.callbacks import ValidationScore
from seq2seq.errors import UserError
from seq2seq.translation.config import TranslationConfig, TranslationDataConfig
from seq2seq.translation.data import weighted_mixture


def test_the_old_one_corpus_keys_are_read_as_lists():
    data = config_lib.from_dict(
        TranslationDataConfig, {"train_prefix": "a/train", "valid_prefix": "a/dev", "test_prefix": None}
    )
    assert [corpus.prefix for corpus in data.train] == ["a/train"] and data.test == ()
    assert data.valid[0].label == "a"
    tfds = config_lib.from_dict(
        TranslationDataConfig, {"tfds_name": "wmt14_translate/de-en", "tfds_valid_split": "validation[:100]"}
    )
    assert (tfds.valid[0].tfds, tfds.valid[0].split) == ("wmt14_translate/de-en", "validation[:100]")
    assert (tfds.train[0].split, tfds.test[0].split) == ("train", "test")


@pytest.mark.parametrize(
    "data,message",
    [
        ({"train_prefix": "a", "train": [{"prefix": "b"}]}, "`data.train` and the older"),
        ({"train": [{"prefix": "a", "tfds": "b"}]}, "exactly one of `prefix`"),
        ({"train": [{}]}, "exactly one of `prefix`"),
        ({"valid": [{"prefix": "x/dev"}, {"prefix": "x/val"}]}, "several corpora named 'x'"),
        ({"train": [{"prefix": "a/t", "weight": 0}, {"prefix": "b/t", "weight": 0}]}, "add up to 0"),
        ({"train": [{"prefix": "a/t", "weight": -1}]}, "at least 0"),
        ({"train": [{"prefix": "a/t", "wieght": 1}]}, "unknown key `data.train[0].wieght`"),
    ],
)
def test_bad_corpus_lists_name_the_key(data, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(")):
        config_lib.from_dict(TranslationConfig, {"data": data})


def test_sampling_follows_the_weights():
    labels = [tf.data.Dataset.from_tensor_slices(np.full(n, label, "int64")) for label, n in ((0, 5), (1, 50), (2, 7))]
    mixed = weighted_mixture(labels, [5.0, 3.0, 2.0], seed=3)  # relative weights: 0.5, 0.3, 0.2
    drawn = np.fromiter(mixed.take(6000).as_numpy_iterator(), "int64")
    shares = np.bincount(drawn, minlength=3) / len(drawn)
    # Binomial standard deviations at n=6000 are at most 0.0065; allow 3 of them.
    np.testing.assert_allclose(shares, [0.5, 0.3, 0.2], atol=0.02)


def test_one_corpus_is_one_finite_pass():
    single = tf.data.Dataset.range(4)
    assert list(weighted_mixture([single], [1.0], seed=0).as_numpy_iterator()) == [0, 1, 2, 3]


def test_validation_bleu_per_set_and_their_mean(tmp_path):
    sets = [
        ("news", ["q1", "q2"], ["a dog runs in the park .", "two men play football ."]),
        ("talks", ["q3"], ["we will see tomorrow ."]),
    ]
    answers = {"q1": "a dog runs in the park .", "q2": "two men play .", "q3": "we see tomorrow ."}
    logs = {}
    bleu = ValidationScore(
        lambda lines: [answers[line] for line in lines],
        sets,
        log_file=tmp_path / "bleu.jsonl",
        print_fn=lambda text: None,
    )
    bleu.on_epoch_end(0, logs)
    news = BLEU().corpus_score([answers["q1"], answers["q2"]], [sets[0][2]]).score
    talks = BLEU().corpus_score([answers["q3"]], [sets[1][2]]).score
    assert news != talks
    assert logs["val_bleu_news"] == pytest.approx(news) and logs["val_bleu_talks"] == pytest.approx(talks)
    assert logs["val_bleu"] == pytest.approx((news + talks) / 2)  # the mean, not BLEU of the union
    entry = json.loads((tmp_path / "bleu.jsonl").read_text())
    assert entry["sets"] == pytest.approx({"news": news, "talks": talks})


def three_corpora(tmp_path):
    """Three corpora cut from the toy corpus, and two dev sets."""
    german, english = (DATA / "toy.de").read_text().splitlines(), (DATA / "toy.en").read_text().splitlines()
    for name, rows in (
        ("a", slice(0, 4)),
        ("b", slice(4, 7)),
        ("c", slice(7, 10)),
        ("dev1", slice(0, 5)),
        ("dev2", slice(5, 10)),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.de").write_text("\n".join(german[rows]) + "\n")
        (tmp_path / name / "train.en").write_text("\n".join(english[rows]) + "\n")
    return {
        "dir": str(tmp_path),
        "train": [
            {"prefix": "a/train", "weight": 0.5},
            {"prefix": "b/train", "weight": 0.3},
            {"prefix": "c/train", "weight": 0.2},
        ],
        "valid": [{"prefix": "dev1/train"}, {"prefix": "dev2/train"}],
        "test": [],
    }


def test_several_corpora_need_steps_per_epoch(tmp_path):
    from seq2seq.translation.training import train_translation_model

    config = toy_translation_config(tmp_path / "run", epochs=1)
    config = config_lib.from_dict(TranslationConfig, {**config_lib.to_dict(config), "data": three_corpora(tmp_path)})
    with pytest.raises(UserError, match="training.steps_per_epoch"):
        train_translation_model(config)


@pytest.mark.slow
def test_three_weighted_corpora_train_resume_and_report_per_set_bleu(tmp_path, capsys):
    from seq2seq.translation.training import train_translation_model

    base = config_lib.to_dict(toy_translation_config(tmp_path / "run", epochs=2, steps_per_epoch=3))
    config = config_lib.from_dict(TranslationConfig, {**base, "data": three_corpora(tmp_path)})
    train_translation_model(config)
    printed = capsys.readouterr().out
    for label, kept in (("a", 4), ("b", 3), ("c", 3)):
        assert f"train {label}: {kept} of {kept} pairs kept" in printed  # the length filter counts per corpus
    assert "= mean of dev1 " in printed
    resumed = dataclasses_replace_epochs(config, 3)
    train_translation_model(resumed)
    with open(tmp_path / "run" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]  # the resumed run added epoch 3 only
    for row in rows:
        per_set = float(row["val_bleu_dev1"]), float(row["val_bleu_dev2"])
        assert float(row["val_bleu"]) == pytest.approx(sum(per_set) / 2, abs=1e-4)
    logged = [json.loads(line) for line in (tmp_path / "run" / "validation_bleu.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in logged] == [1, 2, 3] and set(logged[0]["sets"]) == {"dev1", "dev2"}


def dataclasses_replace_epochs(config, epochs: int):
    import dataclasses

    return dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=epochs))


@pytest.mark.slow
def test_a_resumed_run_ends_with_the_weights_of_the_uninterrupted_one(tmp_path):
    """Killed after epoch 1 (the last backup) and resumed: the same data order, learning rate and optimizer state."""
    import h5py

    from seq2seq.translation.training import train_translation_model

    def run(folder, epochs):
        config = toy_translation_config(
            tmp_path / folder,
            epochs=epochs,
            shuffle_buffer=100,
            keep_checkpoints=1,
            max_tokens=60,
            validation_bleu=False,
            select_by="loss",
        )
        train_translation_model(config)

    run("straight", 3)
    run("resumed", 1)
    run("resumed", 3)

    def weights(folder):
        with h5py.File(tmp_path / folder / "checkpoints" / "epoch-003.weights.h5") as store:
            values = {}
            store.visititems(lambda name, item: values.__setitem__(name, item[()]) if hasattr(item, "shape") else None)
            return values

    straight, resumed = weights("straight"), weights("resumed")
    assert straight.keys() == resumed.keys() and len(straight) > 10
    for name in straight:
        np.testing.assert_allclose(resumed[name], straight[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_each_epoch_has_its_own_order_and_the_same_one_again(tmp_path):
    from seq2seq.run_folder import seed_everything
    from seq2seq.translation.data import batches, build_vocabularies

    seed_everything(0)  # the suite's seed, as a run with training.seed 0 sets it
    config = toy_translation_config(tmp_path / "run", shuffle_buffer=100, max_tokens=40)
    source, target = build_vocabularies(config, tmp_path / "run")
    epoch = tf.Variable(0, dtype=tf.int64)
    train = batches(config, "train", source, target, report=False, epoch=epoch)

    def order(number):
        epoch.assign(number)
        return [batch[1].numpy().tolist() for batch in train]

    first, second = order(0), order(1)
    assert first != second and order(0) == first and order(1) == second
