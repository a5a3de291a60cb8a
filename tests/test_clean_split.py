"""The clean split: held-out pairs share no normalised sentence, nor a near copy, with training."""

import gzip
import json
import random

import pytest
from helpers import one_error, run

from seq2seq.translation.clean_split import clean_split, ngrams, normalised


def jaccard(a: str, b: str) -> float:
    first, second = ngrams(normalised(a)), ngrams(normalised(b))
    return len(first & second) / len(first | second)


def corpus(count=400, seed=1):
    """Pairs with repeated sides, near copies and distinct sentences, as a sentence corpus has them."""
    rng = random.Random(seed)
    words = "haus baum hund katze auto stadt fluss berg wald see meer insel brot milch".split()
    pairs = []
    for index in range(count):
        german = " ".join(rng.sample(words, 4)) + f" {index}"
        pairs.append((german.capitalize() + ".", f"sentence {index} {rng.choice(words)}."))
    pairs += [("Hallo!", "Hello!"), ("Hallo.", "Hi."), ("Servus!", "Hi!")]  # linked through "hallo" and "hi"
    pairs += [("Ich habe keine Zeit.", "I have no time."), ("Ich hab keine Zeit.", "No time for me.")]
    return pairs


def test_normalising_folds_case_and_removes_punctuation():
    assert normalised("  Tom's  HERE!\u00a0Really?") == "tom s here really"
    assert jaccard("Ich habe keine Zeit.", "Ich hab keine Zeit.") == pytest.approx(0.67, abs=0.01)


def test_held_out_pairs_have_no_sentence_or_near_copy_in_training():
    pairs = corpus()
    train, dev, test, counts = clean_split(pairs, 40, threshold=0.6, seed=3)
    assert len(dev) >= 40 and len(test) >= 40 and counts["pairs"] == len(pairs)
    assert sorted(train + dev + test) == list(range(len(pairs)))  # every pair once
    for side in (0, 1):
        training = {normalised(pairs[i][side]) for i in train}
        for index in dev + test:
            assert normalised(pairs[index][side]) not in training
            assert all(jaccard(pairs[index][side], pairs[i][side]) <= 0.6 for i in train)


def test_linked_pairs_stay_together_and_near_copies_stay_in_training():
    pairs = corpus()
    for seed in range(6):
        train, dev, test, _ = clean_split(pairs, 60, seed=seed)
        held = set(dev + test)
        linked = [len(pairs) - 5, len(pairs) - 4, len(pairs) - 3]  # Hallo!/Hello!, Hallo./Hi., Servus!/Hi!
        assert all(index in held for index in linked) or not any(index in held for index in linked)
        assert {len(pairs) - 2, len(pairs) - 1}.isdisjoint(held)  # each is the other's near copy


def test_the_command_writes_the_split_and_refuses_to_overwrite_a_stranger(tmp_path, capsys):
    pairs = corpus()
    for side, language in enumerate(("de", "en")):
        (tmp_path / f"c.{language}").write_text("".join(pair[side] + "\n" for pair in pairs), encoding="utf-8")
    out = tmp_path / "split"
    code, stdout, err = run(capsys, "clean-split", tmp_path / "c", "--size", "30", "-o", out)
    assert code == 0, err
    summary = json.loads((out / "split.json").read_text())
    lines = {name: gzip.open(out / f"{name}.de.gz", "rt").read().splitlines() for name in ("train", "dev", "test")}
    assert [len(lines[name]) for name in ("train", "dev", "test")] == [summary[n] for n in ("train", "dev", "test")]
    assert sorted(sum(lines.values(), [])) == sorted(pair[0] for pair in pairs)
    code, _, err = run(capsys, "clean-split", tmp_path / "c", "--size", "30", "-o", out)
    assert code == 2 and "pass --overwrite" in one_error(err)
    (tmp_path / "c.en").write_text("one line\n")
    code, _, err = run(capsys, "clean-split", tmp_path / "c", "-o", tmp_path / "other")
    assert code == 2 and "not parallel" in one_error(err)
