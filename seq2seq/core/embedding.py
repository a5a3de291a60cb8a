"""Token embeddings with dropout, as the language model, the encoder and the decoder use them."""

from __future__ import annotations

from keras import layers


def embedding_with_dropout(vocab_size: int, embedding_dim: int, dropout: float, dtype=None):
    """`(Embedding, Dropout)` named `embedding` and `embedding_dropout` (the names saved weights use).

    Id 0 (`<pad>`) has an embedding like any other id; callers mask padding
    themselves (the encoder's mask, the loss's), so the layer needs no
    `mask_zero`.
    """
    return (
        layers.Embedding(vocab_size, embedding_dim, name="embedding", dtype=dtype),
        layers.Dropout(dropout, name="embedding_dropout", dtype=dtype),
    )
