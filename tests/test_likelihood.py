"""The masked log-likelihood, the label-smoothed loss, perplexity and token counts, on hand-made numbers.

Logits are chosen as logs of probabilities, so log_softmax gives back those
probabilities: log(1, 2, 1) -> p = (0.25, 0.5, 0.25). Id 0 is padding.
"""

import math

import keras
import numpy as np
import pytest

from seq2seq.core.likelihood import MaskedCrossEntropy, Perplexity, TokenCount, TokenLogProbs, token_log_likelihood

QUARTER_HALF = np.log([1.0, 2.0, 1.0])  # p = (0.25, 0.5, 0.25)
UNIFORM = np.zeros(3)  # p = 1/3 each
LOUD = np.array([30.0, -30.0, 0.0])  # at padding: would dominate any mean it were let into

# Two rows, with padding: row 0 has two targets, row 1 one target.
LOGITS = np.array([[QUARTER_HALF, UNIFORM, LOUD], [QUARTER_HALF, LOUD, LOUD]], "float32")
TARGETS = np.array([[1, 2, 0], [2, 0, 0]], "int32")


def test_token_log_likelihood_is_zero_at_padding():
    log_likelihood, mask = token_log_likelihood(LOGITS, TARGETS)
    np.testing.assert_allclose(np.asarray(mask), [[1, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(
        np.asarray(log_likelihood), [[math.log(0.5), math.log(1 / 3), 0.0], [math.log(0.25), 0.0, 0.0]], rtol=1e-5
    )


def test_cross_entropy_is_the_mean_over_target_tokens():
    """(-log 0.5 - log 1/3 - log 0.25) / 3 tokens = (0.6931 + 1.0986 + 1.3863) / 3 = 1.0594.

    Per sentence first it would be ((0.6931 + 1.0986) / 2 + 1.3863) / 2 = 1.1411.
    """
    loss = float(MaskedCrossEntropy()(TARGETS, LOGITS))
    assert loss == pytest.approx((math.log(2) + math.log(3) + math.log(4)) / 3, rel=1e-5)
    assert loss == pytest.approx(1.0594, abs=1e-4)


def test_label_smoothing_by_hand():
    """With ε = 0.1 each token costs -(0.9·log p(y) + 0.1·mean_v log p(v)).

    p = (0.25, 0.5, 0.25), mean log p = (2·log 0.25 + log 0.5) / 3 = -1.1552:
        target 1: 0.9·0.6931 + 0.1·1.1552 = 0.7394;   target 2: 0.9·1.3863 + 0.1·1.1552 = 1.3632
    uniform p: every log p is log 1/3, so the cost is log 3 = 1.0986 whatever ε.
    Mean over the three target tokens: (0.7394 + 1.0986 + 1.3632) / 3 = 1.0671.
    """
    loss = float(MaskedCrossEntropy(label_smoothing=0.1)(TARGETS, LOGITS))
    log_p = np.log([0.25, 0.5, 0.25])
    by_token = [-(0.9 * log_p[1] + 0.1 * log_p.mean()), math.log(3), -(0.9 * log_p[2] + 0.1 * log_p.mean())]
    assert loss == pytest.approx(np.mean(by_token), rel=1e-5)
    assert loss == pytest.approx(1.0671, abs=1e-4)


def test_label_smoothing_equals_keras_smoothed_cross_entropy_on_the_real_tokens():
    """The same ε/V-spread targets as Keras' CategoricalCrossentropy(label_smoothing), padding left out."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 6)).astype("float32")
    targets = np.array([[4, 5, 1, 0], [3, 0, 0, 0]], "int32")
    real = targets != 0
    reference = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    expected = float(reference(keras.ops.one_hot(targets[real], 6), logits[real]))
    assert float(MaskedCrossEntropy(label_smoothing=0.1)(targets, logits)) == pytest.approx(expected, rel=1e-5)


def test_the_loss_ignores_what_the_model_predicts_at_padding():
    changed = LOGITS.copy()
    changed[TARGETS == 0] = -LOUD  # padding now predicts id 1 instead of id 0
    for smoothing in (0.0, 0.1):
        loss = MaskedCrossEntropy(label_smoothing=smoothing)
        assert float(loss(TARGETS, changed)) == pytest.approx(float(loss(TARGETS, LOGITS)), rel=1e-6)


def test_a_batch_of_padding_only_costs_nothing():
    assert float(MaskedCrossEntropy(label_smoothing=0.1)(np.zeros((2, 3), "int32"), LOGITS)) == 0.0


def test_loss_config_round_trip():
    loss = MaskedCrossEntropy.from_config(MaskedCrossEntropy(label_smoothing=0.2, pad_id=5).get_config())
    assert (loss.label_smoothing, loss.pad_id) == (0.2, 5)


def test_perplexity_ignores_padding():
    """exp((-log 0.5 - log 1/3 - log 0.25) / 3) = (2·3·4)^(1/3) = 24^(1/3) = 2.8845."""
    metric = Perplexity()
    metric.update_state(TARGETS, LOGITS)
    assert float(metric.result()) == pytest.approx(24 ** (1 / 3), rel=1e-5)


def test_perplexity_weighs_every_token_alike_across_batches():
    """One token at p 1/2, then three at p 1/4: exp((log 2 + 3·log 4) / 4) = 2^(7/4) = 3.3636.

    (The mean of the two batches' perplexities, (2 + 4) / 2 = 3, would be wrong.)
    """
    metric = Perplexity()
    metric.update_state(np.array([[1, 0, 0]], "int32"), np.array([[QUARTER_HALF, LOUD, LOUD]], "float32"))
    metric.update_state(
        np.array([[2, 2, 2], [0, 0, 0]], "int32"), np.array([[QUARTER_HALF] * 3, [LOUD] * 3], "float32")
    )  # a row of padding only
    assert float(metric.result()) == pytest.approx(2**1.75, rel=1e-4)
    metric.reset_state()
    metric.update_state(TARGETS, LOGITS)
    assert float(metric.result()) == pytest.approx(24 ** (1 / 3), rel=1e-5)


@pytest.mark.parametrize("smoothing", [0.1, 0.3])
def test_perplexity_beside_a_smoothed_loss_is_still_unsmoothed(smoothing):
    """Told the loss's ε, the metric derives log p(y) from the smoothed value: the same figure, 24^(1/3)."""
    metric = Perplexity(label_smoothing=smoothing)
    metric.update_state(TARGETS, LOGITS)
    assert float(metric.result()) == pytest.approx(24 ** (1 / 3), rel=1e-5)
    metric = Perplexity.from_config(metric.get_config())
    assert metric.label_smoothing == smoothing
    rng = np.random.default_rng(0)
    targets, logits = rng.integers(1, 50, (3, 7)).astype("int32"), rng.normal(size=(3, 7, 50)).astype("float32")
    targets[1, 4:] = 0
    plain = Perplexity()
    plain.update_state(targets, logits)
    metric.update_state(targets, logits)
    assert float(metric.result()) == pytest.approx(float(plain.result()), rel=1e-5)


def test_perplexity_sample_weight_drops_a_row():
    metric = Perplexity()
    metric.update_state(TARGETS, LOGITS, sample_weight=np.array([[1.0], [0.0]], "float32"))
    assert float(metric.result()) == pytest.approx(math.sqrt(2 * 3), rel=1e-5)  # row 0 only: (2·3)^(1/2)


def test_token_count_and_log_probs():
    count = TokenCount()
    count.update_state(TARGETS, LOGITS)
    count.update_state(TARGETS[:1], LOGITS[:1])
    assert float(count.result()) == 5.0
    log_probs = np.asarray(TokenLogProbs()([LOGITS, TARGETS]))
    np.testing.assert_allclose(log_probs.sum(1), [math.log(0.5 / 3), math.log(0.25)], rtol=1e-5)
