"""The output layer, untied and tied (with and without projection), with weights set by hand."""

import keras
import numpy as np
import pytest

from seq2seq.core.output import OutputProjection

HIDDEN = np.array([[1.0, 2.0]], "float32")  # (batch 1, units 2)
EMBEDDINGS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], "float32")  # (vocab 3, embedding_dim 2)


def embedding_layer(matrix=EMBEDDINGS):
    embedding = keras.layers.Embedding(*matrix.shape)
    embedding.build((None,))
    embedding.set_weights([matrix])
    return embedding


def test_untied_logits_by_hand():
    """logits = h·V + b: (1, 2)·[[1, 0, 1], [0, 1, 1]] + (0, 0, 0.5) = (1, 2, 3.5)."""
    head = OutputProjection(vocab_size=3, units=2)
    head.build((None, 2))
    head.set_weights([np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], "float32"), np.array([0.0, 0.0, 0.5], "float32")])
    np.testing.assert_allclose(np.asarray(head(HIDDEN)), [[1.0, 2.0, 3.5]])
    assert sorted(w.name for w in head.weights) == ["bias", "kernel"]


def test_tied_logits_use_the_embedding_matrix():
    """logits = h·Eᵀ + b: rows of E are (1, 0), (0, 1), (1, 1), so h = (1, 2) gives (1, 2, 3) + b."""
    embedding = embedding_layer()
    head = OutputProjection(vocab_size=3, units=2, embedding=embedding, tie_embeddings=True)
    head.build((None, 2))
    assert [w.name for w in head.weights] == ["bias"] and head.projection is None  # only the bias is its own
    head.bias.assign(np.array([0.5, 0.0, -1.0], "float32"))
    np.testing.assert_allclose(np.asarray(head(HIDDEN)), [[1.5, 2.0, 2.0]])
    embedding.set_weights([2 * EMBEDDINGS])  # the head reads the embedding's current matrix
    np.testing.assert_allclose(np.asarray(head(HIDDEN)), [[2.5, 4.0, 5.0]])


def test_tied_logits_with_a_projection_when_sizes_differ():
    """units 3 -> embedding_dim 2 through P, then Eᵀ: h = (1, 1, 1), P = [[1, 0], [0, 1], [1, 0]].

    h·P = (2, 1); (2, 1)·Eᵀ = (2, 1, 3); bias 0.
    """
    head = OutputProjection(vocab_size=3, units=3, embedding=embedding_layer(), tie_embeddings=True)
    head.build((None, 3))
    assert head.projection is not None
    head.projection.set_weights([np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], "float32")])
    np.testing.assert_allclose(np.asarray(head(np.ones((1, 3), "float32"))), [[2.0, 1.0, 3.0]])
    assert sorted(w.name for w in head.weights) == ["bias", "kernel"]  # bias and the projection's kernel
    assert tuple(head.projection.kernel.shape) == (3, 2)


def test_logits_are_float32_for_any_leading_shape():
    head = OutputProjection(vocab_size=5, units=4, dtype="mixed_float16")
    logits = head(np.ones((2, 3, 4), "float16"))
    assert tuple(logits.shape) == (2, 3, 5) and keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_tying_needs_the_embedding_and_the_config_keeps_the_arguments():
    with pytest.raises(ValueError, match="needs the `embedding` layer"):
        OutputProjection(vocab_size=3, units=2, tie_embeddings=True)
    config = OutputProjection(vocab_size=7, units=5, embedding=embedding_layer(), tie_embeddings=True).get_config()
    assert (config["vocab_size"], config["units"], config["tie_embeddings"]) == (7, 5, True)
