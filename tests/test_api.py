"""The Python API: the README's example runs as shown, from any folder; names resolve; options per call."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA

ROOT = Path(__file__).resolve().parents[1]


def readme_examples() -> list[tuple[str, str]]:
    """`(python code, its printed output)` of each ```python block of the README followed by a ```text block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```\n\s*prints\s*\n\s*```text\n(.*?)```", text, flags=re.S)


def test_the_readme_has_a_python_example_with_its_output():
    assert readme_examples(), "README.md: no ```python block followed by its ```text output"


@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_the_readme_python_example_prints_what_the_readme_shows(index, tmp_path):
    code, shown = readme_examples()[index]
    environment = {**os.environ, "SEQ2SEQ_HOME": str(tmp_path / "home"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(  # from another folder, with an empty user folder: the names find the shipped models
        [sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == shown


def test_importing_the_package_loads_neither_keras_nor_tensorflow():
    program = (
        "import sys, seq2seq\n"
        "assert seq2seq.__version__ and 'Translator' in dir(seq2seq)\n"
        "print(sorted(name for name in ('keras', 'tensorflow') if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unknown_name_is_an_error_naming_where_it_looked(tmp_path, monkeypatch):
    import seq2seq

    monkeypatch.setenv("SEQ2SEQ_HOME", str(tmp_path))
    with pytest.raises(seq2seq.UserError, match=r"no_such_model: no such model directory.*looked in .*models list"):
        seq2seq.Translator.load("no_such_model")
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        seq2seq.Nothing  # noqa: B018


def test_options_per_call_give_what_a_translator_made_with_them_gives(toy_translation_dir):
    import seq2seq

    lines = (DATA / "toy.de").read_text(encoding="utf-8").splitlines()[:4]
    translator = seq2seq.Translator.load(toy_translation_dir)
    three = seq2seq.DecodingOptions(beam_size=3, n_best=3)
    per_call = translator.translate(lines, options=three)
    own = seq2seq.Translator.load(toy_translation_dir, three).translate(lines)
    assert [[h.text for h in t.n_best] for t in per_call] == [[h.text for h in t.n_best] for t in own]
    assert all(len(t) == 3 and t.text == t[0].text and t.score == t[0].score for t in per_call)
    assert translator.options == seq2seq.DecodingOptions()  # the call's options were for that call only
    assert len(translator.translate(lines)[0]) == 1


def test_recognizer_load_transcribes_and_captions_as_the_commands_do(capsys):
    from helpers import run

    import seq2seq

    folder = ROOT.parent / "shared/data/fsdd/recordings"
    recordings = [str(folder / name) for name in ("3_theo_7.wav", "5_george_1.wav")]
    images = [str(ROOT / "saved_models/captions_scenes/examples/test-0.png")]
    for name, files, method, command in (
        ("speech_digits", recordings, "transcribe", "transcribe"),
        ("captions_scenes", images, "caption", "caption"),
    ):
        words = getattr(seq2seq.Recognizer.load(name), method)(files)
        code, out, _ = run(capsys, command, "--model", name, *files)
        assert code == 0 and out.splitlines() == words and all(words)
