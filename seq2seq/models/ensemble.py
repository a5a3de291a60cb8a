"""`Ensemble`: several trained models of one task searched as one model.

At every step each member reads the same input and the same previous token,
and the ensemble's next-token distribution is the mean of the members'
probabilities (a mixture, so scores stay log-probabilities of a normalised
distribution). Independently trained models make partly different errors,
so the mean is usually better than any one of them (Hansen and Salamon 1990;
Sutskever et al. 2014 ensembled five LSTMs for translation); its cost is the
members' compute, summed.

An `Ensemble` is a searchable model (see :mod:`seq2seq.core.search`): its
context and carry are tuples with one entry per member, so greedy search,
beam search and dropping finished sentences treat it like any other model.
It is a Keras model whose file holds every member (architecture and
weights), loaded with `safe_mode=True` like any model.

Members must produce the same outputs vocabulary and read the same input
(the same kind, and for features the same frame size or image size); they
may differ in everything else (units, depth, frame stacking, training
seed). Translation models are ensembled by `seq2seq ensemble`, the models
of a perception directory by `seq2seq perception ensemble`.
"""

from __future__ import annotations

import math

import keras
from keras import ops

# What the data fix about a feature input: members must agree on these (not on `frame_stack` or `conv_filters`).
INPUT_KEYS = ("input", "features", "image_size", "channels")


def input_of(model) -> dict:
    """The part of a model's `source` spec that its inputs must match."""
    source = getattr(model, "source", None) or {"input": "tokens"}
    return {key: source[key] for key in INPUT_KEYS if key in source}


def members_of(model) -> list:
    """The models `model` searches with: an ensemble's members, or the model itself."""
    return list(model.members) if isinstance(model, Ensemble) else [model]


@keras.saving.register_keras_serializable(package="seq2seq")
class Ensemble(keras.Model):
    """The mean next-token distribution of `members` (see the module doc).

    Args:
        members: two or more searchable Keras models (weights shared, not
            copied) with equal `target_vocab_size` and equal inputs
            (:func:`input_of`).

    Call arguments (as the members'): `inputs`, `training`, `return_attention`.

    Returns:
        log of the members' mean probabilities `(batch, target_len, vocab)`
        (valid logits), and with `return_attention` the mean attention weights.
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members. Received: {len(members)}")
        sizes = {member.target_vocab_size for member in members}
        if len(sizes) != 1:
            raise ValueError(f"ensemble members must share one output vocabulary. Received sizes: {sorted(sizes)}")
        inputs = [input_of(member) for member in members]
        if any(spec != inputs[0] for spec in inputs):
            raise ValueError(f"ensemble members must read the same input. Received: {inputs}")
        self.members = members

    # What callers read of a single model: the first member's (they agree on what matters).
    @property
    def source(self) -> dict:
        return self.members[0].source

    @property
    def encoder(self):
        return self.members[0].encoder

    @property
    def decoder(self):
        """The first member's decoder (its `attention_kind` says whether the ensemble has attention to read)."""
        return self.members[0].decoder

    @property
    def source_vocab_size(self) -> int:
        return self.members[0].source_vocab_size

    @property
    def target_vocab_size(self) -> int:
        return self.members[0].target_vocab_size

    def build(self, input_shape=None):
        for member in self.members:
            if not member.built:
                member.build(input_shape)
        self.built = True

    @staticmethod
    def _mean(log_probs: list):
        """log(mean(exp(log_probs))) over the members, computed stably."""
        return ops.logsumexp(ops.stack(log_probs), axis=0) - math.log(len(log_probs))

    def call(self, inputs, training=None, return_attention=False):
        outputs = [member(inputs, training=training, return_attention=return_attention) for member in self.members]
        logits = [output[0] if return_attention else output for output in outputs]
        mean = self._mean([ops.log_softmax(ops.cast(x, "float32"), axis=-1) for x in logits])
        if not return_attention:
            return mean
        return mean, ops.mean(ops.stack([output[1] for output in outputs]), axis=0)

    def encode(self, source):
        """`(contexts, carries, first_tokens)`: one context and carry per member."""
        encoded = [member.encode(source) for member in self.members]
        return tuple(e[0] for e in encoded), tuple(e[1] for e in encoded), encoded[0][2]

    def decode_step(self, token_ids, carry, context):
        """`(mean log_probs (batch, vocab), carries)`."""
        steps = [
            member.decode_step(token_ids, member_carry, member_context)
            for member, member_carry, member_context in zip(self.members, carry, context)
        ]
        return self._mean([step[0] for step in steps]), tuple(step[1] for step in steps)

    def get_config(self):
        return {
            **super().get_config(),
            "members": [keras.saving.serialize_keras_object(member) for member in self.members],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        members = [keras.saving.deserialize_keras_object(member) for member in config.pop("members")]
        return cls(members, **config)
