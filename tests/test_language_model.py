"""The language model: shapes, weight tying, training end to end, save/load, resume, scoring."""

import csv
import json

import keras
import numpy as np
import pytest
from helpers import DATA

from seq2seq import config as config_lib
from seq2seq.core.recurrent import RecurrentStack
from seq2seq.lm.config import LMConfig
from seq2seq.lm.generation import generate
from seq2seq.lm.scoring import score_lines
from seq2seq.lm.training import train_language_model
from seq2seq.model_dirs import load_language_model, save_language_model
from seq2seq.models.language_model import RNNLanguageModel


def test_logits_shape_and_the_core_class():
    model = RNNLanguageModel(vocab_size=11, embedding_dim=4, rnn={"cell": "simple", "units": 6})
    logits = model(np.ones((2, 7), "int32"))
    assert tuple(logits.shape) == (2, 7, 11)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert isinstance(model.core, RecurrentStack)


def test_tied_embeddings_share_the_matrix():
    tied = RNNLanguageModel(vocab_size=50, embedding_dim=8, rnn={"units": 8}, tie_embeddings=True)
    untied = RNNLanguageModel(vocab_size=50, embedding_dim=8, rnn={"units": 8})
    tied(np.ones((1, 3), "int32"))
    untied(np.ones((1, 3), "int32"))
    assert tied.count_params() == untied.count_params() - 50 * 8
    # The output of a token depends on the same row that embeds it.
    before = np.asarray(tied(np.ones((1, 3), "int32")))
    matrix = tied.embedding.embeddings
    changed = np.asarray(matrix).copy()
    changed[7] += 1.0
    matrix.assign(changed)
    after = np.asarray(tied(np.ones((1, 3), "int32")))
    assert not np.allclose(before[..., 7], after[..., 7])


def test_tied_embeddings_with_projection_when_sizes_differ():
    model = RNNLanguageModel(vocab_size=20, embedding_dim=4, rnn={"units": 9}, tie_embeddings=True)
    assert tuple(model(np.ones((2, 3), "int32")).shape) == (2, 3, 20)
    assert tuple(model.head.projection.kernel.shape) == (9, 4)  # core units -> embedding size
    assert not hasattr(model.head, "kernel")  # the output matrix is the embedding's


def test_get_config_keeps_every_constructor_argument():
    """Compared with the arguments given (none at its default), not with a clone's config."""
    rnn = {
        "cell": "simple",
        "units": 7,
        "num_layers": 2,
        "bidirectional": False,
        "dropout": 0.3,
        "activation": "relu",
        "residual": True,
    }
    arguments = dict(vocab_size=13, embedding_dim=5, rnn=rnn, tie_embeddings=True, stateful=True)
    config = RNNLanguageModel(**arguments).get_config()
    assert {key: config[key] for key in arguments} == arguments
    clone = RNNLanguageModel.from_config(config)
    assert {key: getattr(clone.core, key) for key in rnn} == rnn
    assert clone.core.stateful and clone.tie_embeddings and clone.head.tie_embeddings
    assert clone.embedding_dropout.rate == clone.output_dropout.rate == 0.3


def test_step_by_step_equals_the_whole_sequence():
    """encode + decode_step (the search interface) give the log-probabilities of the full forward pass."""
    model = RNNLanguageModel(vocab_size=9, embedding_dim=4, rnn={"cell": "lstm", "units": 5, "num_layers": 2})
    ids = np.array([[2, 4, 5, 6, 7], [2, 8, 4, 4, 5]], "int32")
    expected = np.asarray(keras.ops.log_softmax(model(ids), axis=-1))  # (2, 5, 9)
    context, carry, first = model.encode(ids[:, :3])  # reads 2 tokens, the third is the first input
    np.testing.assert_array_equal(np.asarray(first), ids[:, 2])
    for t in range(2, 5):
        log_probs, carry = model.decode_step(ids[:, t], carry, context)
        np.testing.assert_allclose(np.asarray(log_probs), expected[:, t], atol=1e-5)


def _toy_config(tmp_path, **training):
    return config_lib.from_dict(
        LMConfig,
        {
            "data": {
                "dir": str(DATA),
                "train": "toy_lm.train.txt",
                "valid": "toy_lm.train.txt",
                "test": "toy_lm.valid.txt",
            },
            "model": {"embedding_dim": 32, "rnn": {"cell": "lstm", "units": 64}},
            "training": {
                "batch_size": 2,
                "window_length": 8,
                "learning_rate": 0.02,
                "early_stopping_patience": 50,
                "lr_decay_factor": 1.0,
                **training,
            },
            "run_dir": str(tmp_path / "run"),
        },
    )


def test_overfits_a_tiny_corpus(tmp_path):
    """Trained and validated on the same 6 sentences, perplexity falls close to 1."""
    model_dir = train_language_model(_toy_config(tmp_path, epochs=40))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["valid_perplexity"] < 1.6
    assert metrics["test_perplexity"] > metrics["valid_perplexity"]  # unseen text is harder


@pytest.mark.slow  # two training runs
def test_rerunning_resumes_after_the_last_finished_epoch(tmp_path):
    train_language_model(_toy_config(tmp_path, epochs=1))
    train_language_model(_toy_config(tmp_path, epochs=3))
    with open(tmp_path / "run" / "history.csv") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == [0, 1, 2]  # epoch 0 was not trained twice


def test_save_and_load_give_identical_scores(trained_lm_dir, tmp_path):
    model, vocab = load_language_model(trained_lm_dir)
    lines = ["the cat sat on the mat", "", "a zebra sat", "dog dog dog dog"]
    before = score_lines(model, vocab, lines)
    save_language_model(tmp_path / "copy", model, vocab)
    reloaded, reloaded_vocab = load_language_model(tmp_path / "copy")
    after = score_lines(reloaded, reloaded_vocab, lines)
    assert [s.tokens for s in after] == [7, 1, 4, 5]
    np.testing.assert_allclose([s.log_prob for s in after], [s.log_prob for s in before], rtol=1e-6)


def test_scores_are_independent_of_batching(trained_lm_dir):
    model, vocab = load_language_model(trained_lm_dir)
    lines = ["the cat sat on the mat", "a dog", "", "the bird sang in the tree"]
    one_by_one = [score_lines(model, vocab, [line])[0].log_prob for line in lines]
    batched = [s.log_prob for s in score_lines(model, vocab, lines, batch_size=3)]
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5)


def test_generation_is_reproducible_for_a_seed(trained_lm_dir):
    model, vocab = load_language_model(trained_lm_dir)
    first = generate(model, vocab, "the", max_tokens=12, seed=7, num_samples=3)
    again = generate(model, vocab, "the", max_tokens=12, seed=7, num_samples=3)
    other = generate(model, vocab, "the", max_tokens=12, seed=8, num_samples=3)
    assert first == again
    assert first != other
    assert all(sample.startswith("the") for sample in first)


def test_top_k_one_is_greedy(trained_lm_dir):
    model, vocab = load_language_model(trained_lm_dir)
    samples = generate(model, vocab, "a", max_tokens=8, top_k=1, seed=1, num_samples=2)
    assert samples[0] == samples[1]
    assert samples[0] == generate(model, vocab, "a", max_tokens=8, top_k=1, seed=99)[0]
    # ... and equals greedy search (no sampling) under the same generation rules.
    from seq2seq.core.searcher import Searcher
    from seq2seq.lm.generation import GenerationRules

    prompt = np.array([[vocab.bos_id] + vocab.encode("a")], "int32")
    greedy = Searcher(GenerationRules(model, vocab), vocab.eos_id, max_length=8).search(prompt)["tokens"][0, 0]
    assert samples[0] == " ".join(part for part in ("a", vocab.decode(greedy)) if part)


def test_character_level_model(tmp_path):
    config = config_lib.from_dict(
        LMConfig,
        {
            "data": {"dir": str(DATA), "train": "toy_lm.train.txt", "valid_fraction": 0.2, "level": "char"},
            "model": {"embedding_dim": 8, "rnn": {"cell": "gru", "units": 16}},
            "training": {"batch_size": 2, "window_length": 10, "epochs": 1},
            "run_dir": str(tmp_path / "run"),
        },
    )
    model, vocab = load_language_model(train_language_model(config))
    assert vocab.level == "char" and "c" in vocab.index
    (score,) = score_lines(model, vocab, ["cat"])
    assert score.tokens == 4  # c, a, t, <eos>
    sample = generate(model, vocab, "th", max_tokens=20, seed=3)[0]
    # 20 tokens after the prompt, one character each (<eos> is a line break), except <unk>, which is shown whole.
    assert sample.startswith("th") and len(sample.replace("<unk>", "?")) == 2 + 20


@pytest.mark.slow  # a training run
def test_mixed_precision_training_exports_a_float32_model(tmp_path):
    config = _toy_config(tmp_path, epochs=1, mixed_precision=True)
    model, _ = load_language_model(train_language_model(config))
    assert model.dtype_policy.name == "float32"
    assert model.core.recurrent_layers[0].dtype_policy.name == "float32"


@pytest.mark.slow  # a training run
def test_init_from_starts_with_the_given_weights(tmp_path, trained_lm_dir):
    from seq2seq.errors import UserError

    config = config_lib.from_dict(
        LMConfig,
        {
            "data": {"dir": str(DATA), "train": "toy_lm.train.txt", "valid": "toy_lm.valid.txt"},
            "model": {"embedding_dim": 16, "rnn": {"cell": "gru", "units": 32}},
            "training": {
                "batch_size": 2,
                "window_length": 8,
                "epochs": 1,
                "learning_rate": 0.0,
                "init_from": str(trained_lm_dir),
            },
            "run_dir": str(tmp_path / "warm"),
        },
    )
    warm, _ = load_language_model(train_language_model(config))
    original, _ = load_language_model(trained_lm_dir)
    for a, b in zip(warm.get_weights(), original.get_weights()):
        np.testing.assert_allclose(a, b)  # learning rate 0: the weights stay as loaded
    wider = config_lib.apply_overrides(
        config_lib.to_dict(config), ["model.rnn.units=8", f"run_dir={tmp_path / 'other'}"]
    )
    with pytest.raises(UserError, match="architecture differs"):
        train_language_model(config_lib.from_dict(LMConfig, wider))


class TransitionModel:
    """A searchable stand-in for a language model: the next token is fixed by the current one.

    <bos> -> "a", "a" -> <eos>, <eos> -> "b", anything else -> "c" (probability 1 each).
    """

    def __init__(self, vocab):
        nxt = {vocab.bos_id: vocab.index["a"], vocab.index["a"]: vocab.eos_id, vocab.eos_id: vocab.index["b"]}
        self.table = np.full((len(vocab), len(vocab)), -1e9, "float32")
        for token in range(len(vocab)):
            self.table[token, nxt.get(token, vocab.index["c"])] = 0.0

    def encode(self, prompt_ids):
        return (), keras.ops.zeros((keras.ops.shape(prompt_ids)[0],)), keras.ops.cast(prompt_ids[:, -1], "int32")

    def decode_step(self, token_ids, carry, context):
        return keras.ops.take(keras.ops.convert_to_tensor(self.table), token_ids, axis=0), carry


def test_generation_feeds_bos_after_eos_as_in_training():
    """Char lines are trained as `<bos> chars` -> `chars <eos>`, so after <eos> the next input is <bos>.

    Fed <bos> again, the stand-in says "a" after every line end; fed <eos> it would say "b", then "c"s.
    """
    from seq2seq.core.vocabulary import Vocabulary
    from seq2seq.lm.generation import GenerationRules

    vocab = Vocabulary.build(["abc"], level="char")
    assert generate(TransitionModel(vocab), vocab, "", max_tokens=6, seed=0) == ["a\na\na\n"]
    words = Vocabulary.build(["a b c"], level="word")  # word level: <eos> ends the sample, is not replaced
    rules = GenerationRules(TransitionModel(words), words)
    log_probs, _ = rules.decode_step(np.array([words.eos_id], "int32"), None, ())
    assert int(np.argmax(log_probs)) == words.index["b"]


def test_generation_never_emits_pad_or_bos():
    """Even when the model puts almost all probability on <pad> and <bos>, they are not sampled (the search's rule)."""
    from seq2seq.core.searcher import Searcher
    from seq2seq.core.vocabulary import Vocabulary
    from seq2seq.lm.generation import GenerationRules

    vocab = Vocabulary.build(["abc"], level="char")
    model = RNNLanguageModel(vocab_size=len(vocab), embedding_dim=4, rnn={"units": 4})
    model(np.ones((1, 1), "int32"))
    weights, bias = model.head.get_weights()
    bias[[vocab.pad_id, vocab.bos_id]] = 20.0
    model.head.set_weights([weights, bias])
    rules = GenerationRules(model, vocab)
    prompt = np.full((8, 1), vocab.bos_id, "int32")
    tokens = Searcher(rules, eos_id=-1, max_length=30, temperature=1.0, seed=0).search(prompt)["tokens"]
    assert tokens.shape == (8, 1, 30)
    assert not np.isin(tokens, [vocab.pad_id, vocab.bos_id]).any()


def test_weight_averaging_validates_and_exports_the_average(tmp_path):
    """With `ema_momentum`, the validation loss that picked the best epoch is the exported model's."""
    import math

    model_dir = train_language_model(_toy_config(tmp_path, epochs=3, ema_momentum=0.9))
    best_loss = json.loads((tmp_path / "run" / "best.json").read_text())["best"]
    exported = json.loads((model_dir / "metrics.json").read_text())["valid_perplexity"]  # re-measured on export
    assert exported == pytest.approx(math.exp(best_loss), rel=1e-3)


@pytest.mark.slow  # two training runs
def test_a_learning_rate_cut_survives_resume(tmp_path):
    """The backup is written after the plateau schedule has cut the rate, so a resumed run keeps the cut."""
    schedule = {"lr_decay_factor": 0.5, "lr_decay_min_delta": 100.0}  # every epoch after the first "stalls"
    train_language_model(_toy_config(tmp_path, epochs=2, **schedule))
    train_language_model(_toy_config(tmp_path, epochs=3, **schedule))
    with open(tmp_path / "run" / "history.csv") as handle:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(handle)]
    assert rates == pytest.approx([0.02, 0.02, 0.01])


def test_one_warm_start_for_every_task_checks_the_vocabulary_then_copies_the_weights(capsys):
    from seq2seq.core.vocabulary import Vocabulary
    from seq2seq.errors import UserError
    from seq2seq.training import warm_start

    def model(seed):
        keras.utils.set_random_seed(seed)
        built = RNNLanguageModel(vocab_size=7, embedding_dim=4, rnn={"cell": "gru", "units": 3})
        built(np.zeros((1, 2), "int32"))
        return built

    trained, fresh = model(1), model(2)
    words = Vocabulary(["x", "y", "z"])
    with pytest.raises(UserError, match="init_from=elsewhere: its vocabulary differs"):
        warm_start(fresh, "elsewhere", (words,), lambda directory: (trained, Vocabulary(["x", "y", "w"])))
    warm_start(fresh, "elsewhere", (words,), lambda directory: (trained, Vocabulary(["x", "y", "z"])))
    for a, b in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "initialised from elsewhere" in capsys.readouterr().out
