"""seq2seq: recurrent language models and encoder-decoder translation on Keras 3."""

__version__ = "0.1.0"
