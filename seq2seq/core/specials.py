"""The special tokens that every vocabulary and model shares.

Every vocabulary (word, character, SentencePiece) gives ids 0-3 to `<pad>`,
`<unk>`, `<bos>` and `<eos>`; padding is id 0 everywhere (masks test `!= PAD_ID`).
This module imports nothing, so configs and pipelines can use it without loading Keras.
"""

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
