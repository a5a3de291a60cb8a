"""Hostile input on the less-trodden surfaces: special files, YAML bombs, header bombs, ranges, regex inputs.

Each case checks the README's promise for bad input: one `error:` line naming
the file, option or key, exit status 2, no traceback, nothing lost, and a
bounded cost (a wall-clock budget far above the normal time, far below the
unbounded one).
"""

import json
import os
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from helpers import one_error, run, speech_model_dir, write_wav_file

from seq2seq import config as config_lib
from seq2seq.cli import main
from seq2seq.errors import UserError
from seq2seq.lm.config import LMConfig
from seq2seq.outputs import atomic_path, atomic_write, check_output_path

# --- YAML: aliases, duplicate keys, long values -----------------------------------------------------------------

BILLION_LAUGHS = "\n".join(  # 9 x 4**9 = 2.4 million x's from a few hundred bytes
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{new}: &{new} [*{old}, *{old}, *{old}, *{old}]" for old, new in zip("abcdefghi", "bcdefghij")]
    + ["training: {epochs: *j}"]
)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    config = tmp_path / "bomb.yaml"
    config.write_text(BILLION_LAUGHS)
    assert len(config.read_bytes()) < 500
    started = time.monotonic()
    code, out, err = run(capsys, "lm", "train", config)
    line = one_error(err)
    assert code == 2 and "aliases (*name) are not allowed" in line and str(config) in line
    assert time.monotonic() - started < 10 and len(err) < 1000


def test_duplicate_yaml_keys_are_refused(tmp_path):
    config = tmp_path / "twice.yaml"
    config.write_text("training:\n  epochs: 2\n  epochs: 3\n")
    with pytest.raises(UserError, match="duplicate key 'epochs'"):
        config_lib.load(LMConfig, config)


def test_error_messages_show_at_most_a_few_hundred_characters_of_a_value(tmp_path):
    config = tmp_path / "long.yaml"
    config.write_text("run_dir: [" + ", ".join(["x" * 100] * 10_000) + "]\n")
    with pytest.raises(UserError) as caught:
        config_lib.load(LMConfig, config)
    assert len(str(caught.value)) < 500 and "characters)" in str(caught.value)


@pytest.mark.parametrize("seed", ["-1", str(2**70)])
def test_seeds_outside_their_range_are_named(seed, tmp_path):
    config = tmp_path / "seed.yaml"
    config.write_text("{}\n")
    with pytest.raises(UserError, match=r"key `training.seed` must be (at least 0|at most 4,294,967,295)"):
        config_lib.load(LMConfig, config, [f"training.seed={seed}"])


@pytest.mark.parametrize("port", ["0", "99999", "-5"])
def test_serve_refuses_ports_outside_1_to_65535_before_loading(port, capsys):
    code, out, err = run(capsys, "serve", "--model", "nowhere", "--port", port)
    assert code == 2 and "--port must be" in err and "Traceback" not in err


# --- header bombs: WAV sample rates and image sizes are per-file errors --------------------------------------


def wav_with_rate(path: Path, rate: int) -> str:
    """A short 16-bit mono WAV whose header gives `rate` (patched in, so 0 and 2**31 - 1 are possible)."""
    write_wav_file(path, np.zeros(1000), rate=8000)
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", rate * 2)
    path.write_bytes(bytes(data))
    return str(path)


def test_wav_headers_with_absurd_sample_rates_are_per_file_errors_that_keep_the_other_lines(tmp_path, capsys):
    model = speech_model_dir(tmp_path, "speech", seed=1)
    good = write_wav_file(tmp_path / "good.wav", np.random.default_rng(0).normal(size=3000) * 0.1)
    bombs = [wav_with_rate(tmp_path / f"rate{rate}.wav", rate) for rate in (1, 0, 2**31 - 1)]
    started = time.monotonic()
    code, out, err = run(capsys, "transcribe", "--model", model, good, *bombs, good)
    assert time.monotonic() - started < 60 and "Traceback" not in err
    assert code == 2 and len(out.split("\n")) == 6  # five lines, one per file, and the final newline
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and all("expected 4000 to 192000 Hz" in line for line in errors)
    for rate, line in zip((1, 0, 2**31 - 1), errors):
        assert f"rate{rate}.wav" in line and f"{rate} Hz" in line


@pytest.mark.parametrize("side", [5000, 20000])  # above our limit; above Pillow's own too
def test_an_image_declaring_too_many_pixels_is_refused_before_it_is_decoded(side, tmp_path):
    from PIL import Image

    from seq2seq.perception.inputs import read_image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(bomb, optimize=True)  # kilobytes that decode to millions of pixels
    assert bomb.stat().st_size < 200_000

    class Encoder:
        image_size = 16

    tracemalloc.start()
    with pytest.raises(UserError, match=r"bomb.png: .*pixels.* at most 16,777,216 pixels are read"):
        read_image(str(bomb), Encoder(), None)
    assert tracemalloc.get_traced_memory()[1] < 50_000_000
    tracemalloc.stop()


# --- regular expressions on user text run in linear time ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["a" * 1_000_000, "www." * 250_000, "a@" * 500_000, "1." * 500_000, "http://" + "." * 1_000_000],
    ids=["one word", "www runs", "at signs", "dotted digits", "dots after a scheme"],
)
def test_protected_spans_are_found_in_linear_time_on_a_megabyte(text):
    from seq2seq.translation.segments import PROTECTED

    started = time.monotonic()
    list(PROTECTED.finditer(text))
    assert time.monotonic() - started < 5  # about 0.1 s; the quadratic pattern took 49 s on 80,000 characters


def test_protected_spans_still_cover_urls_addresses_and_numbers():
    from seq2seq.translation.segments import PROTECTED

    def spans(text):
        return [match.group() for match in PROTECTED.finditer(text)]

    assert spans("see www.example.com.") == ["www.example.com"]
    assert spans("(http://a.b/c?d=1) and x,https://e.f") == ["http://a.b/c?d=1", "https://e.f"]
    assert spans("„www.beispiel.de“ und (http://x.de/a)") == ["www.beispiel.de", "http://x.de/a"]
    assert spans("mail a.b+c@ex-ample.co.uk!") == ["a.b+c@ex-ample.co.uk"]
    assert spans("am 12.03.2024 um 10:30") == ["12.03.2024", "10:30"]


# --- outputs that are not regular files ----------------------------------------------------------------------


def test_a_fifo_output_is_written_as_a_stream_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with atomic_write(fifo) as handle:
        handle.write("eins\nzwei\n")
    reader.join(timeout=10)
    assert received == ["eins\nzwei\n"] and fifo.is_fifo()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pipe"]  # no temporary file beside it


def test_dev_null_and_dev_fd_outputs_are_written_not_replaced(tmp_path):
    with atomic_write("/dev/null") as handle:
        handle.write("nothing\n")
    assert Path("/dev/null").is_char_device()
    read_end, write_end = os.pipe()
    try:
        with atomic_write(f"/dev/fd/{write_end}") as handle:  # what `-o >(cat)` passes
            handle.write("through a pipe\n")
        assert os.read(read_end, 100) == b"through a pipe\n"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_outputs_that_need_a_file_name_refuse_a_pipe(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="is a pipe or a device; this output must be a regular file"):
        with atomic_path(fifo):
            pass
    assert fifo.is_fifo()


def test_a_symlinked_output_is_replaced_through_the_link_and_can_be_repeated(tmp_path):
    target, link = tmp_path / "target.txt", tmp_path / "link.txt"
    target.write_text("old\n")
    link.symlink_to(target)
    for text in ("new\n", "newer\n"):
        with atomic_write(link) as handle:
            handle.write(text)
        assert link.is_symlink() and target.read_text() == text
    assert sorted(path.name for path in tmp_path.iterdir()) == ["link.txt", "target.txt"]


def test_a_symlink_loop_and_a_block_device_are_named(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(UserError, match="a loop of symbolic links"):
        check_output_path(tmp_path / "a")
    devices = [path for path in Path("/dev").iterdir() if path.is_block_device()]
    if devices:  # a machine with no block device in /dev has nothing to protect here
        with pytest.raises(UserError, match="is a block device"):
            check_output_path(devices[0])


def test_translate_into_a_fifo_streams_to_its_reader(toy_translation_dir, tmp_path, capsys):
    source = tmp_path / "in.de"
    source.write_text("ein hund läuft im park .\nzwei kinder spielen .\n")
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    code, out, err = run(capsys, "translate", "--model", toy_translation_dir, source, "-o", fifo)
    reader.join(timeout=30)
    assert code == 0, err
    assert len(received) == 1 and received[0].count("\n") == 2 and fifo.is_fifo()


# --- documents the toolkit reads: a report whose fields are missing ------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "null"])
def test_compare_names_a_report_whose_score_is_missing_or_null(damage, tmp_path, capsys):
    from seq2seq.evaluation.reports import SCHEMA

    assert main(["evaluate", "--hypothesis", __file__, "--reference", __file__, "--report", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["schema"] == SCHEMA
    if damage == "missing":
        del report["scores"]["bleu"]["score"]
    else:
        report["scores"]["bleu"]["score"] = None
    (tmp_path / "r" / "report.json").write_text(json.dumps(report))
    code, out, err = run(capsys, "compare", tmp_path / "r" / "report.json")
    line = one_error(err)
    assert code == 2 and "report.json: a damaged report" in line and out == ""


def test_shortlist_refuses_more_per_source_words_than_the_target_vocabulary(toy_translation_dir, tmp_path, capsys):
    (tmp_path / "a.de").write_text("ein hund\n")
    (tmp_path / "a.en").write_text("a dog\n")
    code, out, err = run(
        capsys,
        "shortlist",
        "--model",
        toy_translation_dir,
        "--source",
        tmp_path / "a.de",
        "--target",
        tmp_path / "a.en",
        "--per-source",
        "1000000",
    )
    line = one_error(err)
    assert code == 2 and "--per-source 1000000: more than the model's" in line


# --- paths the checks used to miss: folders under a file, special file systems, run folders -------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--hypothesis", "{h}", "--reference", "{h}", "--report", "{file}/x"],
        ["evaluate", "--hypothesis", "{h}", "--reference", "{h}", "--report", "/sys/x"],
        ["evaluate", "--hypothesis", "{h}", "--reference", "{h}", "--report", "/proc/x"],
    ],
    ids=["report under a file", "report under /sys", "report under /proc"],
)
def test_output_folders_in_impossible_places_fail_before_the_work(argv, tmp_path, capsys):
    hypothesis = tmp_path / "h.txt"
    hypothesis.write_text("a dog runs .\n")
    (tmp_path / "afile").write_text("a file\n")
    values = {"h": hypothesis, "file": tmp_path / "afile"}
    code, out, err = run(capsys, *(item.format(**values) for item in argv))
    line = one_error(err)
    assert code == 2 and ("is a file, not a folder" in line or "special file system" in line), line
    assert "BLEU" not in out and (tmp_path / "afile").read_text() == "a file\n"


@pytest.mark.parametrize("where", ["file", "proc"])
def test_a_run_dir_that_is_a_file_or_under_proc_is_named(where, toy_config_file, tmp_path, capsys):
    run_dir = tmp_path / "afile" if where == "file" else Path("/proc/seq2seq-run")
    (tmp_path / "afile").write_text("a file\n")
    code, out, err = run(capsys, "lm", "train", toy_config_file, "--set", f"run_dir={run_dir}")
    line = one_error(err)
    assert code == 2 and str(run_dir) in line and (tmp_path / "afile").read_text() == "a file\n"


@pytest.mark.parametrize("command", ["export", "average-checkpoints"])
def test_model_folders_under_a_file_fail_before_the_work(command, toy_translation_dir, tmp_path, capsys):
    (tmp_path / "afile").write_text("a file\n")
    source = ["--model", toy_translation_dir] if command == "export" else [Path(toy_translation_dir).parent]
    code, out, err = run(capsys, command, *source, "-o", tmp_path / "afile" / "x")
    line = one_error(err)
    assert code == 2 and "is a file, not a folder" in line and (tmp_path / "afile").read_text() == "a file\n"


def test_a_descriptor_path_appends_where_the_shell_opened_it(tmp_path):
    """`-o /dev/stdout >> log` (here /dev/fd/N of a file opened for appending) adds to the file, never replaces it."""
    log = tmp_path / "log.txt"
    log.write_text("earlier\n")
    with open(log, "a") as appending:
        with atomic_write(f"/dev/fd/{appending.fileno()}") as handle:
            handle.write("added\n")
    assert log.read_text() == "earlier\nadded\n" and sorted(path.name for path in tmp_path.iterdir()) == ["log.txt"]


def test_dev_shm_is_an_ordinary_place_for_outputs():
    if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
        check_output_path("/dev/shm/seq2seq-output.txt")  # no error: a tmpfs, not the kernel's /dev


def test_yaml_merge_keys_without_aliases_still_work_and_deep_nesting_is_named(tmp_path):
    config = tmp_path / "merge.yaml"
    config.write_text("data: {train: a.txt, valid: b.txt}\ntraining: {<<: {epochs: 2}, batch_size: 4}\n")
    assert config_lib.load(LMConfig, config).training.epochs == 2
    config.write_text("training: " + "[" * 100_000 + "\n")
    with pytest.raises(UserError, match="nested too deeply"):
        config_lib.load(LMConfig, config)
