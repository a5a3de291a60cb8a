"""Attention layers on tiny tensors with weights set by hand (numbers a reader can check on paper)."""

import numpy as np
import pytest

from seq2seq.core.attention import AdditiveAttention, MultiplicativeAttention, make_attention, masked_softmax

# One sentence of three source positions; the third is padding.
MEMORY = np.array([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]], "float32")  # (batch 1, source 3, memory 2)
MASK = np.array([[True, True, False]])


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def additive(units=2, query_dim=2, memory_dim=2, U=None, W=None, v=None):
    layer = AdditiveAttention(units)
    layer.build((None, query_dim), (None, None, memory_dim))
    layer.memory_layer.set_weights([np.asarray(U, "float32")])  # (memory_dim, units)
    layer.query_layer.set_weights([np.asarray(W, "float32")])  # (query_dim, units)
    layer.score_layer.set_weights([np.asarray(v, "float32").reshape(units, 1)])
    return layer


def test_additive_attention_by_hand():
    """U = I, W = 0, v = (1, 0): score_j = tanh(h_j[0]) = (tanh 1, tanh 0) = (0.7616, 0); padding masked.

    weights = softmax(0.7616, 0) = (e^0.7616, 1) / (e^0.7616 + 1) = (0.6817, 0.3183); the context is
    0.6817·(1, 0) + 0.3183·(0, 1).
    """
    layer = additive(U=np.eye(2), W=np.zeros((2, 2)), v=[1.0, 0.0])
    query = np.array([[3.0, -2.0]], "float32")  # W = 0: the query does not matter
    context, weights = layer(query, MEMORY, layer.prepare(MEMORY), MASK)
    np.testing.assert_allclose(np.asarray(weights), [[0.6817, 0.3183, 0.0]], atol=1e-4)
    np.testing.assert_allclose(np.asarray(context), [[0.6817, 0.3183]], atol=1e-4)


def test_additive_attention_uses_the_query():
    """W = I, U = 0, v = (1, 1): every position scores tanh(q0) + tanh(q1), so the weights are uniform;

    with U = I the query (1, -1) adds to each key: tanh(1+1) + tanh(0-1) = 0.2024 and
    tanh(0+1) + tanh(1-1) = 0.7616 -> softmax = (1, e^0.5592) / (1 + e^0.5592) = (0.3637, 0.6363).
    """
    layer = additive(U=np.zeros((2, 2)), W=np.eye(2), v=[1.0, 1.0])
    query = np.array([[1.0, -1.0]], "float32")
    _, weights = layer(query, MEMORY, layer.prepare(MEMORY), MASK)
    np.testing.assert_allclose(np.asarray(weights), [[0.5, 0.5, 0.0]], atol=1e-6)
    layer = additive(U=np.eye(2), W=np.eye(2), v=[1.0, 1.0])
    _, weights = layer(query, MEMORY, layer.prepare(MEMORY), MASK)
    np.testing.assert_allclose(np.asarray(weights), [[0.3637, 0.6363, 0.0]], atol=1e-4)


def test_additive_attention_matches_numpy_with_different_sizes():
    """score_j = v·tanh(W·s + U·h_j) with query size 3, memory size 4, 5 hidden units, two sentences."""
    rng = np.random.default_rng(0)
    U, W, v = rng.normal(size=(4, 5)), rng.normal(size=(3, 5)), rng.normal(size=5)
    layer = additive(units=5, query_dim=3, memory_dim=4, U=U, W=W, v=v)
    memory = rng.normal(size=(2, 6, 4)).astype("float32")
    query = rng.normal(size=(2, 3)).astype("float32")
    mask = np.array([[True] * 6, [True] * 2 + [False] * 4])
    context, weights = layer(query, memory, layer.prepare(memory), mask)
    scores = np.tanh(memory @ U + (query @ W)[:, None, :]) @ v  # (2, 6)
    expected = softmax(np.where(mask, scores, -np.inf))
    np.testing.assert_allclose(np.asarray(weights), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(context), np.einsum("bs,bsd->bd", expected, memory), atol=1e-5)


def multiplicative(W):
    W = np.asarray(W, "float32")  # (memory_dim, query_dim)
    layer = MultiplicativeAttention(W.shape[1])
    layer.build((None, W.shape[1]), (None, None, W.shape[0]))
    layer.memory_layer.set_weights([W])
    return layer


def test_multiplicative_attention_by_hand():
    """W = I: score_j = q·h_j. q = (1, 2) and h = (1, 0), (0, 1), (1, 1) give scores 1, 2, 3.

    Unmasked: softmax(1, 2, 3) = (0.0900, 0.2447, 0.6652). With the third position masked:
    softmax(1, 2) = (0.2689, 0.7311), and the context is (0.2689, 0.7311).
    """
    layer = multiplicative(np.eye(2))
    memory = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], "float32")
    query = np.array([[1.0, 2.0]], "float32")
    _, weights = layer(query, memory, layer.prepare(memory), None)
    np.testing.assert_allclose(np.asarray(weights), [[0.0900, 0.2447, 0.6652]], atol=1e-4)
    context, weights = layer(query, memory, layer.prepare(memory), MASK)
    np.testing.assert_allclose(np.asarray(weights), [[0.2689, 0.7311, 0.0]], atol=1e-4)
    np.testing.assert_allclose(np.asarray(context), [[0.2689, 0.7311]], atol=1e-4)


def test_multiplicative_attention_applies_w_to_the_memory():
    """W = [[0, 1], [1, 0]] swaps the memory's features: h = (1, 0) -> (0, 1), so q = (1, 2) scores 2, 1."""
    layer = multiplicative([[0.0, 1.0], [1.0, 0.0]])
    query = np.array([[1.0, 2.0]], "float32")
    _, weights = layer(query, MEMORY, layer.prepare(MEMORY), MASK)
    np.testing.assert_allclose(np.asarray(weights), [[0.7311, 0.2689, 0.0]], atol=1e-4)


def test_multiplicative_attention_matches_numpy_with_different_sizes():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 3))  # memory size 4 -> query size 3
    layer = multiplicative(W)
    memory = rng.normal(size=(2, 5, 4)).astype("float32")
    query = rng.normal(size=(2, 3)).astype("float32")
    mask = np.array([[True] * 3 + [False] * 2, [True] * 5])
    context, weights = layer(query, memory, layer.prepare(memory), mask)
    expected = softmax(np.where(mask, np.einsum("bq,bsq->bs", query, memory @ W), -np.inf))
    np.testing.assert_allclose(np.asarray(weights), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(context), np.einsum("bs,bsd->bd", expected, memory), atol=1e-5)


def test_masked_softmax_gives_padding_no_weight_even_with_the_largest_score():
    scores = np.array([[0.0, np.log(3.0), 50.0]], "float32")
    np.testing.assert_allclose(np.asarray(masked_softmax(scores, MASK)), [[0.25, 0.75, 0.0]], atol=1e-6)
    np.testing.assert_allclose(np.asarray(masked_softmax(scores, None)).sum(), 1.0, atol=1e-6)


def test_make_attention():
    assert make_attention("none", 4) is None
    assert isinstance(make_attention("bahdanau", 4), AdditiveAttention)
    luong = make_attention("luong", 6)
    assert isinstance(luong, MultiplicativeAttention) and luong.units == 6
    with pytest.raises(ValueError, match="`attention` must be one of"):
        make_attention("dot", 4)
