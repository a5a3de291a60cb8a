"""The allowed choices and the hard caps that configs, layers and the command line share.

The choice tuples are the one list of options for each config key that
selects a layer; configs import them instead of retyping them. This module
imports nothing, so configs and the command line can use it without loading Keras.
"""

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
