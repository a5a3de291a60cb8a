"""The allowed choices, ranges and hard caps that configs, layers and the command line share.

The choice tuples are the one list of options for each config key that
selects a layer; configs import them instead of retyping them.
:func:`out_of_range` is the one range check of config keys, decoding options
and command-line numbers. This module imports only the standard library, so
configs and the command line can use it without loading Keras.
"""

import math

CELLS = ("simple", "lstm", "gru")  # RecurrentStack(cell=...)
ACTIVATIONS = ("tanh", "relu")  # RecurrentStack(activation=...), cell "simple" only
ATTENTIONS = ("none", "bahdanau", "luong")  # RNNDecoder(attention=...)
ENCODER_INPUTS = ("tokens", "audio", "image")  # Seq2SeqModel(source={"input": ...})
SUBWORD_MODEL_TYPES = ("bpe", "unigram")  # SentencePiece model_type
TOKEN_LEVELS = ("word", "char", "subword")  # language-model data.level
SEARCH_PRECISIONS = ("float32", "bfloat16")  # Searcher(precision=...), translate --precision
# The hard cap on any search output's length, whatever the length options say: it bounds a search's memory
# (its output buffers grow with it) and time. Also the most `lm generate --max-tokens` accepts.
MAX_OUTPUT_TOKENS = 100_000
MAX_SEED = 2**32 - 1  # the largest seed NumPy's and the backends' random generators accept


def out_of_range(value, minimum=None, maximum=None, strict: bool = False) -> str | None:
    """What is wrong with the number `value` for the inclusive range (above `minimum` when `strict`), or None.

    For example `"must be at least 1"`; the caller names the key or option.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if minimum is not None and (value <= minimum if strict else value < minimum):
        return f"must be {'above' if strict else 'at least'} {minimum}"
    if maximum is not None and value > maximum:
        return f"must be at most {maximum:,}"
    return None
