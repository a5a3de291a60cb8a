"""Shallow fusion of a translation model with a target-side language model (Gulcehre et al. 2015)."""

from __future__ import annotations

import keras
from keras import ops

from seq2seq.core.subwords import SubwordVocabulary
from seq2seq.core.vocabulary import TokenVocabulary
from seq2seq.errors import UserError


class ShallowFusion(keras.layers.Layer):
    """log p(y_t) = log p_TM(y_t | y_<t, x) + weight · log p_LM(y_t | y_<t).

    Offers the `encode` / `decode_step` interface of
    :class:`~seq2seq.models.encoder_decoder.Seq2SeqModel`, so every search method runs with it
    unchanged. The language model must use the translation model's target
    SentencePiece vocabulary (train it with `data.level: subword` and
    `data.subword_model: <model>/target.spm`).

    Args:
        model: the translation model.
        language_model: an :class:`~seq2seq.models.language_model.RNNLanguageModel`.
        weight: the language model's weight (0 gives plain translation).
    """

    def __init__(self, model, language_model, weight: float, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.language_model = language_model
        self.weight = weight

    def encode(self, source_ids):
        context, carry, first = self.model.encode(source_ids)
        lm_state = self.language_model.core.zero_state(ops.shape(source_ids)[0])
        return context, [carry, lm_state], first

    def decode_step(self, token_ids, carry, context):
        translation_carry, lm_state = carry
        log_probs, translation_carry = self.model.decode_step(token_ids, translation_carry, context)
        lm_log_probs, lm_state = self.language_model.decode_step(token_ids, lm_state, ())
        return log_probs + self.weight * lm_log_probs, [translation_carry, lm_state]


def check_vocabularies(lm_vocab: TokenVocabulary, target_vocab: SubwordVocabulary, lm_directory) -> None:
    """Raises unless the language model shares the translation model's target vocabulary."""
    if getattr(lm_vocab, "model_proto", None) != target_vocab.model_proto:
        raise UserError(
            f"{lm_directory}: this language model's vocabulary ({lm_vocab.level}) is not the "
            "translation model's target SentencePiece model; fusion needs the same token ids. "
            "Train the language model with data.level: subword and "
            "data.subword_model: <translation model>/target.spm."
        )
