"""Translation ensembles: one directory that translate, evaluate and export read like any model."""

from helpers import DATA, one_error, run


def test_an_ensemble_of_one_model_twice_translates_as_that_model(toy_translation_dir, tmp_path, capsys):
    folder = tmp_path / "ensemble"
    code, _, err = run(capsys, "ensemble", toy_translation_dir, toy_translation_dir, "-o", folder)
    assert code == 0 and "2 translation models ensembled" in err
    code, single, _ = run(capsys, "translate", "--model", toy_translation_dir, DATA / "toy.de", "--beam", "3")
    assert code == 0
    code, both, err = run(capsys, "translate", "--model", folder, DATA / "toy.de", "--beam", "3")
    assert code == 0, err
    assert both == single  # the mean of two equal distributions is that distribution
    code, aligned, err = run(capsys, "translate", "--model", folder, DATA / "toy.de", "--alignments")
    assert code == 0 and " ||| " in aligned, err
    code, forced, err = run(capsys, "translate", "--model", folder, DATA / "toy.de", "--glossary", glossary(tmp_path))
    assert code == 0 and "cat" in forced.split(), err


def glossary(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_text("hund\tcat\n", encoding="utf-8")
    return path


def test_members_must_share_vocabularies(toy_translation_dir, tmp_path, capsys):
    import shutil

    from seq2seq.core.subwords import SubwordVocabulary, train_sentencepiece

    other = tmp_path / "other"
    shutil.copytree(toy_translation_dir, other)
    size = len(SubwordVocabulary.load(other / "target.spm"))
    lines = (DATA / "toy.de").read_text().splitlines() + (DATA / "toy.en").read_text().splitlines()
    (other / "target.spm").write_bytes(train_sentencepiece(lines * 3, size, "unigram"))  # same size, other pieces
    code, _, err = run(capsys, "ensemble", toy_translation_dir, other, "-o", tmp_path / "a")
    assert code == 2 and f"{other}: its source.spm or target.spm differs" in one_error(err)
    assert not (tmp_path / "a").exists()
    code, _, err = run(capsys, "ensemble", toy_translation_dir, "-o", tmp_path / "b")
    assert code == 2 and "at least two models" in one_error(err)
