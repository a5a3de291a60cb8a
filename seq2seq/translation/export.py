"""`seq2seq export`: a translation model as a TensorFlow SavedModel, raw text in and raw text out.

The SavedModel runs everything inside its graph: SentencePiece tokenization
(tensorflow-text), the encoder, beam search and detokenization, so a client
needs TensorFlow and tensorflow-text only (TensorFlow Serving ships both).
Its two signatures are each one concrete function over every batch size and
every sentence length:

- `serving_default(inputs)`: `inputs` a batch of German strings `[batch]`;
  decodes with the toolkit's defaults (beam 5, alpha 0.6, length limit
  `ceil(1.5 * source subwords + 10)`);
- `translate(inputs, beam_size, alpha, max_length_ratio, max_length_offset)`:
  the same with the decoding options as inputs (scalars);
- `translate_with_terms(inputs, terms)`: the defaults, with `terms` `[batch,
  n]` strings: the target terms each sentence's translation must hold (a
  glossary's, as `translate --glossary` forces them; `""` fills unused
  places), by lexically constrained beam search in the graph. Finding the
  source terms is the client's part (:class:`~seq2seq.translation.glossary.Glossary`
  `.matches` does it in Python).

SavedModel signatures have no optional inputs, hence three.

Both return `translations` `[batch]` strings (the best hypothesis),
`scores` `[batch]` (its length-normalized log-probability), `nbest`
`[batch, beam]` strings and `nbest_scores` `[batch, beam]`, best first.
As with `seq2seq translate`, empty or white-space inputs give empty outputs
and sources are cut to `max_source_tokens` subwords.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import tensorflow as tf

from seq2seq.core.constraints import constrained_result, constrained_start, constrained_steps
from seq2seq.core.decoding import DecodingOptions
from seq2seq.core.search import beam_search, length_limit
from seq2seq.core.specials import BOS_ID, EOS_ID, PAD_ID
from seq2seq.core.subwords import SubwordVocabulary
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.outputs import atomic_directory
from seq2seq.translation.glossary import word_continuations

# The `serving_default` signature's decoding, from the toolkit's one set of defaults.
DEFAULTS = {
    name: getattr(DecodingOptions(), name) for name in ("beam_size", "alpha", "max_length_ratio", "max_length_offset")
}
MARKER = "seq2seq_export.json"  # beside saved_model.pb: what `export --overwrite` may replace


def _detokenize(tokenizer, tokens):
    """Strings for `tokens` `(batch, beam, length)`: up to the first `<eos>`, without padding or `<bos>`."""
    batch, beam = tf.shape(tokens)[0], tf.shape(tokens)[1]
    flat = tf.reshape(tokens, (batch * beam, -1))
    before_eos = tf.equal(tf.cumsum(tf.cast(tf.equal(flat, EOS_ID), tf.int32), axis=1, exclusive=True), 0)
    keep = before_eos & tf.not_equal(flat, EOS_ID) & tf.not_equal(flat, PAD_ID) & tf.not_equal(flat, BOS_ID)
    texts = tokenizer.detokenize(tf.ragged.boolean_mask(flat, keep))
    return tf.reshape(texts, (batch, beam))


class TextTranslator(tf.Module):
    """The in-graph translator that `export_saved_model` writes (see the module doc)."""

    def __init__(
        self, model: Seq2SeqModel, source: SubwordVocabulary, target: SubwordVocabulary, max_source_tokens: int = 250
    ):
        super().__init__()
        import tensorflow_text

        self.model = model
        self.source_tokenizer = tensorflow_text.SentencepieceTokenizer(model=source.model_proto, out_type=tf.int32)
        self.target_tokenizer = tensorflow_text.SentencepieceTokenizer(model=target.model_proto)
        self.max_source_tokens = max_source_tokens
        self.continuations = tf.constant(word_continuations(target))  # see glossary.word_continuations

    def _source(self, inputs, max_length_ratio, max_length_offset):
        """`(padded source ids, empty rows, each row's length limit)` of a `[batch]` string tensor."""
        ids = self.source_tokenizer.tokenize(inputs)[:, : self.max_source_tokens]  # ragged (batch, (length))
        source = ids.to_tensor(default_value=PAD_ID)
        source = tf.pad(source, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(source)[1])]])  # at least one column
        limits = length_limit(ids.row_lengths(), max_length_ratio, max_length_offset)  # each row's own, as translate
        return source, tf.equal(ids.row_lengths(), 0), limits

    def _text_outputs(self, tokens, normalized, empty) -> dict:
        texts = tf.where(empty[:, None], tf.constant("", tf.string), _detokenize(self.target_tokenizer, tokens))
        normalized = tf.where(empty[:, None], tf.zeros_like(normalized), normalized)
        return {"translations": texts[:, 0], "scores": normalized[:, 0], "nbest": texts, "nbest_scores": normalized}

    def translate(self, inputs, beam_size, alpha, max_length_ratio, max_length_offset) -> dict:
        """Decodes a `[batch]` string tensor; options are scalar tensors or numbers."""
        source, empty, limits = self._source(inputs, max_length_ratio, max_length_offset)
        beam_size = beam_size if isinstance(beam_size, int) else tf.maximum(beam_size, 1)  # a tensor: any width
        tokens, _, normalized = beam_search(self.model, source, EOS_ID, tf.reduce_max(limits), beam_size, alpha, limits)
        return self._text_outputs(tokens, normalized, empty)

    def translate_with_terms(self, inputs, terms) -> dict:
        """Decodes a `[batch]` string tensor with the defaults, forcing the `[batch, n]` target `terms`."""
        source, empty, limits = self._source(inputs, DEFAULTS["max_length_ratio"], DEFAULTS["max_length_offset"])
        pieces = self.target_tokenizer.tokenize(terms)  # ragged (batch, n, (pieces))
        ids = tf.cast(pieces.to_tensor(default_value=PAD_ID), tf.int32)  # (batch, n, longest)
        ids = tf.pad(ids, [[0, 0], [0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[2])]])  # at least one column
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(ids, PAD_ID), tf.int32), axis=-1)  # (batch, n); 0: unused
        longest = tf.reduce_max(limits)
        state, context = constrained_start(
            self.model, source, ids, lengths, longest, DEFAULTS["beam_size"], limits, self.continuations
        )
        state = constrained_steps(self.model, state, context, EOS_ID, longest)
        tokens, _, normalized, _ = constrained_result(state, DEFAULTS["alpha"])
        return self._text_outputs(tokens, normalized, empty)


def export_saved_model(
    model: Seq2SeqModel,
    source: SubwordVocabulary,
    target: SubwordVocabulary,
    directory: str | Path,
    max_source_tokens: int = 250,
) -> Path:
    """Writes the SavedModel of the module doc into `directory` (atomically: complete or not at all)."""
    translator = TextTranslator(model, source, target, max_source_tokens)
    archive = keras.export.ExportArchive()
    archive.track(translator.source_tokenizer)
    archive.track(translator.target_tokenizer)
    strings = tf.TensorSpec([None], tf.string, name="inputs")
    archive.add_endpoint(
        "serving_default", lambda inputs: translator.translate(inputs, **DEFAULTS), input_signature=[strings]
    )
    archive.add_endpoint(
        "translate",
        translator.translate,
        input_signature=[
            strings,
            tf.TensorSpec([], tf.int32, name="beam_size"),
            tf.TensorSpec([], tf.float32, name="alpha"),
            tf.TensorSpec([], tf.float32, name="max_length_ratio"),
            tf.TensorSpec([], tf.int32, name="max_length_offset"),
        ],
    )
    archive.add_endpoint(
        "translate_with_terms",
        translator.translate_with_terms,
        input_signature=[strings, tf.TensorSpec([None, None], tf.string, name="terms")],
    )
    with atomic_directory(directory) as temporary:
        archive.write_out(str(temporary), verbose=False)
        (temporary / MARKER).write_text(
            json.dumps({"kind": "seq2seq-savedmodel/1", "defaults": DEFAULTS, "max_source_tokens": max_source_tokens})
            + "\n"
        )
    return Path(directory)


def is_export(directory: Path) -> bool:
    """Whether `directory` is a SavedModel this module wrote."""
    return (directory / "saved_model.pb").is_file() and (directory / MARKER).is_file()
