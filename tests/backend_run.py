"""Run by tests/test_backends.py under a given KERAS_BACKEND: the same tiny models, the same inputs.

`python tests/backend_run.py save|load FOLDER`: builds a translator and a
language model, saves (`save`) or loads (`load`) their weights in FOLDER, and
writes `FOLDER/out_BACKEND.npz` with the forward logits, greedy and beam-3
tokens, one training step's loss and the logits after it, and two
generations with the same seed.
"""

import sys
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seq2seq.core.likelihood import MaskedCrossEntropy  # noqa: E402
from seq2seq.core.searcher import Searcher  # noqa: E402
from seq2seq.core.vocabulary import Vocabulary  # noqa: E402
from seq2seq.lm.generation import generate  # noqa: E402
from seq2seq.models.encoder_decoder import Seq2SeqModel  # noqa: E402
from seq2seq.models.language_model import RNNLanguageModel  # noqa: E402

SOURCE = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]], "int32")
INPUTS = {"source_ids": SOURCE, "target_inputs": np.array([[2, 5, 6], [2, 7, 0]], "int32")}
TARGETS = np.array([[5, 6, 3], [7, 3, 0]], "int32")


def main(mode: str, folder: Path) -> None:
    keras.utils.set_random_seed(1)
    translator = Seq2SeqModel(
        source_vocab_size=30,
        target_vocab_size=30,
        embedding_dim=8,
        encoder={"cell": "lstm", "units": 6},
        decoder={"cell": "gru", "units": 10},
        attention="bahdanau",
        attention_units=7,
        tie_embeddings=True,
    )
    translator.build()
    vocab = Vocabulary.build(["a b c d e f g"])
    language_model = RNNLanguageModel(vocab_size=len(vocab), embedding_dim=4, rnn={"cell": "lstm", "units": 5})
    language_model.build((None, None))
    for name, model in (("translator", translator), ("language_model", language_model)):
        path = str(folder / f"{name}.weights.h5")
        model.save_weights(path) if mode == "save" else model.load_weights(path)
    logits = np.asarray(translator(INPUTS))
    greedy = Searcher(translator, eos_id=3, max_length=7).search(SOURCE)["tokens"]
    beam = Searcher(translator, eos_id=3, beam_size=3, max_length=7, alpha=0.6).search(SOURCE)
    samples = [generate(language_model, vocab, "a b", max_tokens=8, seed=5, num_samples=3) for _ in range(2)]
    translator.compile(optimizer=keras.optimizers.SGD(0.1), loss=MaskedCrossEntropy(label_smoothing=0.1))
    loss = translator.train_on_batch(INPUTS, TARGETS)
    np.savez(
        folder / f"out_{keras.backend.backend()}.npz",
        logits=logits,
        greedy=greedy,
        beam=beam["tokens"],
        beam_scores=beam["normalized_scores"],
        loss=np.asarray(loss),
        after=np.asarray(translator(INPUTS)),
        samples=np.array(samples),
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
