"""`seq2seq lm ...` from the command line: output formats and every bad input."""

import json
import subprocess
import sys

import pytest
from helpers import run

from seq2seq.cli import main


def test_score_has_one_row_per_input_line(trained_lm_dir, tmp_path, capsys):
    text = tmp_path / "in.txt"
    text.write_text("the cat sat\n\n   \nzebra quagga\n!!!\n")
    code, out, err = run(capsys, "lm", "score", "--model", str(trained_lm_dir), str(text))
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0] == ["line", "log_prob", "tokens", "unknown", "perplexity"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4", "5", "corpus"]
    assert [int(row[2]) for row in rows[1:6]] == [4, 1, 1, 3, 2]  # words + <eos>
    assert [int(row[3]) for row in rows[1:6]] == [0, 0, 0, 2, 1]  # out-of-vocabulary words
    assert int(rows[-1][2]) == 11
    assert "corpus perplexity" in err


def test_score_json_and_gzip_input(trained_lm_dir, tmp_path, capsys):
    import gzip

    text = tmp_path / "in.txt.gz"
    with gzip.open(text, "wt") as handle:
        handle.write("a dog ran home\nthe cat\n")
    code, out, _ = run(capsys, "lm", "score", "--model", str(trained_lm_dir), "--json", str(text))
    document = json.loads(out)
    assert code == 0 and [line["tokens"] for line in document["lines"]] == [5, 3]
    total = document["corpus"]
    assert total["tokens"] == 8
    assert total["log_prob"] == pytest.approx(sum(line["log_prob"] for line in document["lines"]))


def test_score_output_file_is_written(trained_lm_dir, tmp_path, capsys):
    text = tmp_path / "in.txt"
    text.write_text("the dog\n")
    out_file = tmp_path / "scores.tsv"
    code, out, _ = run(capsys, "lm", "score", "--model", str(trained_lm_dir), str(text), "-o", str(out_file))
    assert code == 0 and out == ""
    assert out_file.read_text().splitlines()[1].startswith("1\t")


def test_invalid_utf8_names_file_and_line(trained_lm_dir, tmp_path, capsys):
    text = tmp_path / "bad.txt"
    text.write_bytes(b"fine line\nbad \xff byte\n")
    code, _, err = run(capsys, "lm", "score", "--model", str(trained_lm_dir), str(text))
    assert code == 2
    assert f"{text}, line 2: invalid UTF-8" in err
    code, out, _ = run(capsys, "lm", "score", "--model", str(trained_lm_dir), "--errors", "replace", str(text))
    assert code == 0 and len(out.splitlines()) == 4


def test_generate_is_reproducible(trained_lm_dir, capsys):
    args = [
        "lm",
        "generate",
        "--model",
        str(trained_lm_dir),
        "--prompt",
        "the",
        "--seed",
        "5",
        "--num-samples",
        "2",
        "--max-tokens",
        "10",
    ]
    _, first, _ = run(capsys, *args)
    _, second, _ = run(capsys, *args)
    assert first == second and len(first.splitlines()) == 2


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--temperature", "0", "--temperature must be above 0"),
        ("--temperature", "-1", "--temperature must be above 0"),
        ("--top-k", "0", "--top-k must be at least 1"),
        ("--max-tokens", "0", "--max-tokens must be at least 1"),
    ],
)
def test_generate_rejects_bad_options(trained_lm_dir, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["lm", "generate", "--model", str(trained_lm_dir), option, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_model_file_is_named(trained_lm_dir, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_lm_dir, broken)
    (broken / "vocab.json").unlink()
    code, _, err = run(capsys, "lm", "generate", "--model", str(broken))
    assert code == 2 and "missing vocab.json (or vocab.spm)" in err
    code, _, err = run(capsys, "lm", "score", "--model", str(tmp_path / "nowhere"))
    assert code == 2 and "model directory not found" in err


def test_damaged_model_file_is_a_clear_error(trained_lm_dir, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_lm_dir, broken)
    (broken / "model.keras").write_bytes(b"not a zip")
    code, _, err = run(capsys, "lm", "generate", "--model", str(broken))
    assert code == 2 and "model.keras: cannot load the model" in err


def test_bad_config_exits_2_without_traceback(toy_config_file):
    toy_config_file.write_text(toy_config_file.read_text().replace("cell: lstm", "cell: lstn"))
    result = subprocess.run(
        [sys.executable, "-m", "seq2seq", "lm", "train", str(toy_config_file)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        "key `model.rnn.cell` must be one of ['simple', 'lstm', 'gru']. Received: model.rnn.cell='lstn'"
        in result.stderr
    )


def test_bad_override_and_missing_config(toy_config_file, tmp_path, capsys):
    code, _, err = run(capsys, "lm", "train", str(toy_config_file), "--set", "training.batch_size=-3")
    assert code == 2 and "`training.batch_size` must be at least 1" in err
    code, _, err = run(capsys, "lm", "train", str(tmp_path / "none.yaml"))
    assert code == 2 and "config file not found" in err


def test_training_data_errors_name_the_file(toy_config_file, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xc3\x28 broken\n")
    code, _, err = run(capsys, "lm", "train", str(toy_config_file), "--set", f"data.train={bad}")
    assert code == 2 and f"{bad}, line 2: invalid UTF-8" in err
    code, _, err = run(capsys, "lm", "train", str(toy_config_file), "--set", "data.valid=missing.txt")
    assert code == 2 and "missing.txt: file not found" in err


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["lm"],
        ["lm", "train"],
        ["lm", "score"],
        ["lm", "generate"],
        ["train"],
        ["build-vocab"],
        ["translate"],
        ["evaluate"],
    ],
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    assert "usage: seq2seq" in capsys.readouterr().out
