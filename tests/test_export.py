"""`seq2seq export`: a SavedModel with text in and text out, one graph for every shape, as `translate` translates."""

import json
import os
import subprocess
import sys

import pytest

from seq2seq.cli import main

SENTENCES = [
    "ein hund läuft im park .",
    "",
    "zwei kinder spielen im garten .",
    "eine frau liest .",
    "ein mann fährt fahrrad auf der straße und ein hund läuft neben ihm .",
    "hund",
    "   ",
    "ein kleines mädchen spielt mit einem ball im park und lacht .",
]

# Run in a fresh process that imports TensorFlow and tensorflow-text only.
CLIENT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401 -- registers the SentencePiece ops
model = tf.saved_model.load(sys.argv[1])
sentences = json.loads(sys.argv[2])
default, options = model.signatures["serving_default"], model.signatures["translate"]
results = {"seq2seq_imported": any(name.split(".")[0] == "seq2seq" for name in sys.modules)}
for size in (1, 3, len(sentences)):  # one concrete function: every batch size and every length
    texts = []
    for start in range(0, len(sentences), size):
        output = default(inputs=tf.constant(sentences[start:start + size]))
        assert output["nbest"].shape[1] == 5 and output["nbest_scores"].shape == output["nbest"].shape
        texts += [text.decode() for text in output["translations"].numpy()]
    results[f"beam5_batch{size}"] = texts
output = options(inputs=tf.constant(sentences), beam_size=tf.constant(1), alpha=tf.constant(0.6),
                 max_length_ratio=tf.constant(1.5), max_length_offset=tf.constant(10))
results["greedy"] = [text.decode() for text in output["translations"].numpy()]
results["greedy_nbest"] = int(output["nbest"].shape[1])
terms = [["cat", ""], ["", ""], ["the two", "cat"]]  # a term per sentence, none, two
output = model.signatures["translate_with_terms"](inputs=tf.constant(sentences[:3]), terms=tf.constant(terms))
results["with_terms"] = [text.decode() for text in output["translations"].numpy()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def exported(toy_translation_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "savedmodel"
    assert main(["export", "--model", str(toy_translation_dir), "-o", str(folder)]) == 0
    return folder


def translate(model_dir, tmp_path, capsys, *options) -> list[str]:
    source = tmp_path / "in.de"
    source.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["translate", "--model", str(model_dir), str(source), *options]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.slow
def test_the_savedmodel_translates_like_translate_in_one_graph(exported, toy_translation_dir, tmp_path, capsys):
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, str(exported), json.dumps(SENTENCES)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert not results["seq2seq_imported"]
    expected = translate(toy_translation_dir, tmp_path, capsys, "--beam", "5")
    assert any(expected) and expected[1] == expected[6] == ""  # empty and white-space lines stay empty
    for size in (1, 3, len(SENTENCES)):
        assert results[f"beam5_batch{size}"] == expected, size
    assert results["greedy"] == translate(toy_translation_dir, tmp_path, capsys, "--beam", "1")
    assert results["greedy_nbest"] == 1
    first, empty, third = results["with_terms"]
    assert "cat" in first.split() and empty == "" and "the two" in third and "cat" in third.split()


def test_export_overwrite_replaces_only_an_earlier_export(exported, toy_translation_dir, tmp_path, capsys):
    code = main(["export", "--model", str(toy_translation_dir), "-o", str(exported)])
    assert code == 2 and "pass --overwrite" in capsys.readouterr().err
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("precious\n")
    code = main(["export", "--model", str(toy_translation_dir), "-o", str(tmp_path / "notes"), "--overwrite"])
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "notes" / "mine.txt").read_text() == "precious\n"
    code = main(["export", "--model", str(tmp_path / "no_model"), "-o", str(tmp_path / "new")])
    assert code == 2 and not (tmp_path / "new").exists()
