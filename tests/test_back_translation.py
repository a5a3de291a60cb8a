"""Back-translation from monolingual text to a trained model, on toy data: the README's steps, each a command."""

import dataclasses

from helpers import DATA, one_error, run, toy_translation_config

from seq2seq.translation.config import CorpusConfig

PARAGRAPHS = "A dog runs in the park. A cat sleeps on the sofa.\n\nTwo children play in the garden. A man reads.\n"


def test_from_english_paragraphs_to_a_german_english_model_with_tagged_synthetic_pairs(tmp_path, capsys):
    from seq2seq.translation.data import corpus_pairs
    from seq2seq.translation.training import train_translation_model

    # 1. the reverse model (English -> German), on the same corpus
    reverse = toy_translation_config(tmp_path / "en_de", epochs=30)
    reverse = dataclasses.replace(
        reverse, data=dataclasses.replace(reverse.data, source_language="en", target_language="de")
    )
    en_de = train_translation_model(reverse)

    # 2. monolingual English paragraphs -> one sentence a line
    (tmp_path / "news.en.txt").write_text(PARAGRAPHS, encoding="utf-8")
    code, out, err = run(capsys, "split-sentences", tmp_path / "news.en.txt", "-o", tmp_path / "mono.en")
    assert code == 0, err
    english = (tmp_path / "mono.en").read_text(encoding="utf-8").splitlines()
    assert english == [
        "A dog runs in the park.",
        "A cat sleeps on the sofa.",
        "Two children play in the garden.",
        "A man reads.",
    ]

    # 3. back-translate with sampling (Edunov et al. 2018): synthetic German sources
    common = ("translate", "--model", en_de, tmp_path / "mono.en", "--beam", "1", "--temperature", "1", "--seed")
    code, _, err = run(capsys, *common, "1", "-o", tmp_path / "mono.de")
    assert code == 0, err
    german = (tmp_path / "mono.de").read_text(encoding="utf-8").splitlines()
    assert len(german) == len(english) and all(german)
    code, _, _ = run(capsys, *common, "2", "-o", tmp_path / "other.de")
    assert (tmp_path / "other.de").read_text(encoding="utf-8") != "\n".join(german) + "\n"  # sampled, not searched

    # 4. German -> English on real plus tagged synthetic pairs
    config = toy_translation_config(tmp_path / "de_en", epochs=2, steps_per_epoch=4)
    synthetic = CorpusConfig(prefix=str(tmp_path / "mono"), weight=0.5, tag="<bt>")
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, train=(*config.data.train, synthetic)))
    sources = [s.decode() for s, _ in corpus_pairs(config, synthetic).as_numpy_iterator()]
    assert sources == [f"<bt> {line}" for line in german]
    model_dir = train_translation_model(config)
    capsys.readouterr()
    code, out, err = run(capsys, "translate", "--model", model_dir, DATA / "toy.de")
    assert code == 0 and len(out.splitlines()) == len((DATA / "toy.de").read_text().splitlines()), err


def test_split_sentences_errors(tmp_path, capsys):
    code, _, err = run(capsys, "split-sentences", tmp_path / "missing.txt", "-o", tmp_path / "out.txt")
    assert code == 2 and "missing.txt: file not found" in one_error(err)
    (tmp_path / "in.txt").write_text("Eins. Zwei.\n", encoding="utf-8")
    code, _, err = run(capsys, "split-sentences", tmp_path / "in.txt", "--language", "xx", "-o", tmp_path / "o.txt")
    assert code == 2 and "--language xx" in one_error(err)
    code, out, _ = run(capsys, "split-sentences", tmp_path / "in.txt", "--language", "de", "-o", tmp_path / "o.gz")
    import gzip

    assert code == 0 and gzip.open(tmp_path / "o.gz", "rt").read() == "Eins.\nZwei.\n"
