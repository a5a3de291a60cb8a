"""Training from token arrays (seq2seq.translation.arrays, pipelines.arrays): batches, sampling, the whole round."""

from collections import Counter

import numpy as np
import pytest
import yaml
from helpers import DATA, toy_translation_config

from pipelines.arrays import bucketed, pack, unpack, weighted_batches
from seq2seq import config as config_lib
from seq2seq.core.specials import BOS_ID, EOS_ID
from seq2seq.errors import UserError
from seq2seq.models.encoder_decoder import build_model
from seq2seq.translation import arrays


def pair(source_length, target_length, first=10):
    return np.arange(first, first + source_length), np.arange(first + 100, first + 100 + target_length)


def rows_of(batches):
    """The `(source, target)` pairs in batches, read back from the padded arrays (rows without target dropped)."""
    found = []
    for inputs, targets in batches:
        for source, row, target in zip(inputs["source_ids"], inputs["target_inputs"], targets):
            assert row[0] == BOS_ID
            if target.any():
                end = list(target).index(EOS_ID)
                np.testing.assert_array_equal(row[1 : end + 1], target[:end])  # inputs are the targets shifted
                found.append((tuple(source[source > 0]), tuple(target[:end])))
    return found


def test_batches_have_one_shape_per_bucket_and_hold_every_pair_once():
    pairs = [pair(n, m) for n, m in [(1, 1), (3, 2), (4, 3), (2, 7), (5, 5), (8, 7), (6, 2), (3, 3), (9, 1)]]
    batches, left = bucketed(pairs, [4, 8], 16, BOS_ID, EOS_ID, rest=True)
    assert left == []
    for inputs, targets in batches:
        length = inputs["source_ids"].shape[1]
        assert length in (4, 8) and inputs["source_ids"].shape == inputs["target_inputs"].shape == targets.shape
        assert len(targets) == 16 // length  # leftovers are padded to the same shape, with empty targets
    kept = Counter((tuple(s), tuple(t)) for s, t in pairs if max(len(s), len(t) + 1) <= 8)
    assert Counter(rows_of(batches)) == kept
    assert len(kept) == 8  # (9, 1) is longer than 8: skipped; (2, 7) fits with its <eos>


def test_leftovers_are_returned_without_rest():
    batches, left = bucketed([pair(2, 2)] * 5, [4], 8, BOS_ID, EOS_ID)  # two pairs a batch
    assert len(batches) == 2
    assert len(left) == 1


def test_weighted_batches_follow_the_weights_within_two_points():
    rng = np.random.default_rng(0)
    corpora = []
    for first in (10, 20, 30):  # a corpus' sources start with its own id; lengths drawn alike for all
        lengths = rng.integers(1, 12, size=40)
        sources = [np.full(n, first) for n in lengths]
        corpora.append((str(first), sources, [np.full(n, 5) for n in lengths]))
    stream = weighted_batches(corpora, [5.0, 3.0, 2.0], [6, 12], 48, BOS_ID, EOS_ID, seed=3, pool=500)
    counts = Counter()
    for _ in range(1500):
        counts.update(source[0] for source, _ in rows_of([next(stream)]))
    total = sum(counts.values())
    assert total > 6000
    for first, share in ((10, 0.5), (20, 0.3), (30, 0.2)):
        assert counts[first] / total == pytest.approx(share, abs=0.02)


def test_pack_and_unpack_are_inverse():
    sequences = [[4, 5, 6], [], [7]]
    assert [list(ids) for ids in unpack(*pack(sequences))] == sequences


def test_an_epochs_draws_depend_only_on_the_seed_and_the_epoch():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 12, size=60)
    corpora = [("a", [np.full(n, 7) + np.arange(n) for n in lengths], [np.full(n, 5) for n in lengths])]

    def epoch_batches(epoch, dataset=None):
        counter = arrays.EpochCounter()
        dataset = dataset or arrays.EpochBatches(corpora, [1.0], [6, 12], 48, seed=3, steps=4, epoch=counter)
        dataset.epoch.assign(epoch)
        return dataset, [dataset[index] for index in range(len(dataset))]

    def same(first, second):
        return all(
            np.array_equal(a[0]["source_ids"], b[0]["source_ids"]) and np.array_equal(a[1], b[1])
            for a, b in zip(first, second)
        )

    running, _ = epoch_batches(0)
    _, second = epoch_batches(1, running)  # after epoch 0 ...
    _, fresh = epoch_batches(1)  # ... or in a resumed run that starts at epoch 1
    assert len(second) == 4 and same(second, fresh)
    assert not same(epoch_batches(0)[1], fresh)


def toy_model(config):
    model = build_model(config.model, 60, 60)
    model.build()
    return model


def test_weight_chunks_round_trip_and_refuse_another_architecture(tmp_path, monkeypatch):
    config = toy_translation_config(tmp_path)
    monkeypatch.setattr(arrays, "CHUNK_BYTES", 4_000)  # several chunks
    model = toy_model(config)
    paths = arrays.save_weight_chunks(model, tmp_path / "weights")
    assert len(paths) > 2 and all(path.stat().st_size < 12_000 for path in paths)
    copy = toy_model(config)
    arrays.load_weight_chunks(copy, tmp_path / "weights")
    for mine, theirs in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_allclose(theirs, mine, rtol=1e-3, atol=1e-4)  # stored as float16
    wider = config_lib.from_dict(
        type(config),
        {**config_lib.to_dict(config), "model": {**config_lib.to_dict(config)["model"], "attention_units": 8}},
    )
    with pytest.raises(UserError, match="not the one that trained them"):
        arrays.load_weight_chunks(toy_model(wider), tmp_path / "weights")


def two_corpora_config(tmp_path, **training):
    german, english = (DATA / "toy.de").read_text().splitlines(), (DATA / "toy.en").read_text().splitlines()
    for name, rows in (("a", slice(0, 6)), ("b", slice(6, 10))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.de").write_text("\n".join(german[rows]) + "\n")
        (tmp_path / name / "train.en").write_text("\n".join(english[rows]) + "\n")
    data = config_lib.to_dict(toy_translation_config(tmp_path / "run", steps_per_epoch=2, **training))
    data["data"] = {
        "dir": str(tmp_path),
        "train": [{"prefix": "a/train", "weight": 0.7}, {"prefix": "b/train", "weight": 0.3}],
        "valid": [{"prefix": "a/train"}, {"prefix": "b/train"}],
        "test": [],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def seq2seq(*argv) -> int:
    from seq2seq.cli import main

    return main([str(arg) for arg in argv])


@pytest.mark.slow
def test_export_train_import_round_gives_a_model_directory(tmp_path, toy_translation_dir):
    from seq2seq.model_dirs import load_translation_model

    config, corpora = two_corpora_config(tmp_path, epochs=2), tmp_path / "corpora.npz"
    assert seq2seq("arrays", "export", config, toy_translation_dir, "-o", corpora) == 0
    splits, (source, _) = arrays.load_corpora(corpora)
    assert [label for label, _, _ in splits["train"]] == ["a", "b"]
    assert source.model_proto == (toy_translation_dir / "source.spm").read_bytes()
    chunks = tmp_path / "chunks"
    assert seq2seq("arrays", "train", config, corpora, "--buckets", "12,24,41", "--chunks", chunks) == 0
    run = tmp_path / "run"
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 3  # training.epochs: 2 epochs of training.steps_per_epoch batches, then the header
    model, trained_source, _ = load_translation_model(run / "model")  # the runner's best model
    assert trained_source.model_proto == source.model_proto
    assert (run / "validation_bleu.jsonl").is_file() and (run / "backup").is_dir()
    model_dir = tmp_path / "model"
    assert seq2seq("arrays", "import", config, chunks, "--vocab", run, "-o", model_dir) == 0
    imported, _, _ = load_translation_model(model_dir)
    for mine, theirs in zip(model.get_weights(), imported.get_weights()):
        np.testing.assert_allclose(theirs, mine, rtol=1e-3, atol=1e-3)  # through float16 chunks


@pytest.mark.slow
def test_trains_under_jax_on_a_machine_without_tensorflow(tmp_path, toy_translation_dir):
    """What an accelerator machine with JAX and no TensorFlow runs: TensorFlow cannot be imported there."""
    import os
    import subprocess
    import sys

    config, corpora = two_corpora_config(tmp_path), tmp_path / "corpora.npz"
    assert seq2seq("arrays", "export", config, toy_translation_dir, "-o", corpora) == 0
    program = (
        "import sys; sys.modules['tensorflow'] = None\n"  # `import tensorflow` raises ImportError from here on
        "from seq2seq.cli import main\n"
        f"arguments = ['arrays', 'train', {config!r}, {str(corpora)!r}, '--buckets', '12,24,41']\n"
        "arguments += ['--minutes', '0.001']\n"
        "status = main(arguments)\n"
        "assert 'tensorflow' not in [name.split('.')[0] for name, module in sys.modules.items() if module]\n"
        "sys.exit(status)\n"
    )
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", program], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "backend: jax" in done.stdout
    assert (tmp_path / "run" / "model" / "model.keras").is_file()
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 2  # --minutes ended it after one epoch
    assert not (tmp_path / "run" / "tensorboard").exists()


@pytest.mark.parametrize(
    "write",
    [
        lambda handle: handle.write(b"not numpy\n"),
        lambda handle: np.save(handle, np.arange(3)),  # one array, not an archive
        lambda handle: np.savez(handle, other=np.arange(3)),  # other arrays
        lambda handle: np.savez(handle, vocab_sizes=np.array([5, 5]), train0_source=np.arange(3)),
    ],  # written in part
    ids=["text", "npy", "other-npz", "partial-npz"],
)
def test_train_refuses_a_file_that_is_not_an_export(tmp_path, capsys, write):
    config, bad = two_corpora_config(tmp_path), tmp_path / "corpora.npz"
    with open(bad, "wb") as handle:  # a handle: np.save and np.savez given a path would add their own suffix
        write(handle)
    assert seq2seq("arrays", "train", config, bad, "--minutes", "1") == 2
    assert f"{bad}: not an exported corpus file" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model").exists()
