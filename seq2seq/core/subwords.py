"""SentencePiece subword vocabularies (BPE or unigram), trained from the training text.

Ids are fixed to the toolkit's specials: 0 `<pad>`, 1 `<unk>`, 2 `<bos>`, 3 `<eos>`.
A model is stored as its serialized protobuf (`*.spm`) in the model directory,
and tokenization runs inside the tf.data graph through tensorflow-text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from seq2seq.core.choices import SUBWORD_MODEL_TYPES
from seq2seq.core.specials import BOS, BOS_ID, EOS, EOS_ID, PAD, PAD_ID, UNK, UNK_ID
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write


def train_sentencepiece(
    lines: Iterable[str],
    vocab_size: int,
    model_type: str = "bpe",
    character_coverage: float = 1.0,
    max_sentences: int = 2_000_000,
    seed_name: str = "training text",
) -> bytes:
    """Trains a SentencePiece model and returns its serialized protobuf."""
    import sentencepiece

    if model_type not in SUBWORD_MODEL_TYPES:
        raise UserError(f"`model_type` must be one of {SUBWORD_MODEL_TYPES}. Received: model_type={model_type!r}")
    buffer = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=buffer,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            pad_piece=PAD,
            unk_piece=UNK,
            bos_piece=BOS,
            eos_piece=EOS,
            input_sentence_size=max_sentences,
            shuffle_input_sentence=True,
            hard_vocab_limit=False,
            minloglevel=2,
            num_threads=2,
        )
    except RuntimeError as error:
        raise UserError(f"SentencePiece could not train on the {seed_name}: {error}") from None
    return buffer.getvalue()


class SubwordVocabulary:
    """A trained SentencePiece model: encode and decode in Python, or get its bytes for tf.data.

    Satisfies :class:`~seq2seq.core.vocabulary.TokenVocabulary`.
    """

    level = "subword"

    def __init__(self, model_proto: bytes):
        import sentencepiece

        self.model_proto = model_proto
        self.processor = sentencepiece.SentencePieceProcessor(model_proto=model_proto)
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, line: str) -> list[int]:
        return self.processor.encode(line)

    def decode(self, ids: Iterable[int]) -> str:
        """Detokenized text; stops at `<eos>`, skips padding and `<bos>`."""
        kept = []
        for number in ids:
            number = int(number)
            if number == EOS_ID:
                break
            if number not in (PAD_ID, BOS_ID):
                kept.append(number)
        return self.processor.decode(kept)

    def save(self, path: str | Path) -> None:
        with atomic_write(path, "wb") as handle:
            handle.write(self.model_proto)

    @classmethod
    def load(cls, path: str | Path) -> SubwordVocabulary:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: SentencePiece model not found.")
        try:
            vocabulary = cls(path.read_bytes())
            if len(vocabulary) <= EOS_ID or vocabulary.processor.id_to_piece(EOS_ID) != EOS:
                raise RuntimeError(f"{len(vocabulary)} pieces, without the toolkit's specials")
        except (RuntimeError, IndexError, OSError) as error:
            raise UserError(
                f"{path}: not a SentencePiece model of this toolkit ({error}); copy the whole model directory again."
            ) from None
        return vocabulary

    @classmethod
    def load_pair(cls, folder: str | Path) -> tuple[SubwordVocabulary, SubwordVocabulary]:
        """`(source, target)` from `folder/source.spm` and `folder/target.spm` (a model or run folder)."""
        return cls.load(Path(folder) / "source.spm"), cls.load(Path(folder) / "target.spm")
