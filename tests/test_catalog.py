"""Models by name: the search path, `seq2seq models list | pack | install` (archives, URLs, checksums, refusals)."""

import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading

import pytest
from helpers import DATA, one_error, run

from seq2seq import catalog


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty user folder (SEQ2SEQ_HOME) for the test."""
    monkeypatch.setenv("SEQ2SEQ_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "models"


@pytest.fixture
def packed(toy_translation_dir, tmp_path, capsys):
    archive = tmp_path / "toy_mt.tar.gz"
    assert run(capsys, "models", "pack", toy_translation_dir, "-o", archive)[0] == 0
    return archive


def test_pack_writes_an_archive_and_its_checksum(packed):
    digest = hashlib.sha256(packed.read_bytes()).hexdigest()
    assert packed.with_name("toy_mt.tar.gz.sha256").read_text() == f"{digest}  toy_mt.tar.gz\n"
    with tarfile.open(packed) as archive:
        names = archive.getnames()
    assert {"manifest.json", "model.keras", "source.spm", "target.spm"} <= set(names)


def test_an_installed_model_is_listed_and_translates_by_name(packed, home, tmp_path, capsys, monkeypatch):
    code, out, _ = run(capsys, "models", "install", packed)
    assert code == 0 and (home / "toy_mt" / "model.keras").is_file()
    code, out, _ = run(capsys, "models", "list", "--json")
    listed = {model["name"]: model for model in map(json.loads, out.splitlines())}
    assert listed["toy_mt"]["task"] == "translation" and listed["toy_mt"]["path"] == str(home / "toy_mt")
    assert listed["general_de_en"]["languages"] == "de-en" and "BLEU" in listed["general_de_en"]["headline"]
    monkeypatch.chdir(tmp_path)  # a name works from any folder
    code, out, _ = run(capsys, "translate", "--model", "toy_mt", DATA / "toy.de", "--beam", "1")
    assert code == 0 and len(out.splitlines()) == len((DATA / "toy.de").read_text().splitlines())
    code, _, err = run(capsys, "models", "install", packed)
    assert code == 2 and "pass --overwrite" in one_error(err)
    assert run(capsys, "models", "install", packed, "--overwrite", "--name", "toy_mt")[0] == 0


def test_a_model_directory_installs_under_another_name(toy_translation_dir, home, capsys):
    assert run(capsys, "models", "install", toy_translation_dir, "--name", "mine")[0] == 0
    assert catalog.resolve("mine") == home / "mine"


def test_a_wrong_checksum_installs_nothing(packed, home, capsys):
    packed.with_name("toy_mt.tar.gz.sha256").write_text("0" * 64 + "  toy_mt.tar.gz\n")
    code, _, err = run(capsys, "models", "install", packed)
    assert code == 2 and "SHA-256 is" in one_error(err) and "expected 000" in err
    code, _, err = run(capsys, "models", "install", packed, "--sha256", "abc")
    assert code == 2 and "not a SHA-256" in one_error(err)
    assert not home.exists() or not any(home.iterdir())


def unsafe_archive(path, kind):
    with tarfile.open(path, "w:gz") as archive:
        data = b'{"kind": "seq2seq-translation/1"}'
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo({"dotdot": "../evil.txt", "absolute": "/tmp/evil.txt"}.get(kind, "model.keras"))
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "manifest.json"
        elif kind == "device":
            info.type = tarfile.CHRTYPE
        archive.addfile(info, io.BytesIO(b"") if info.isfile() else None)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("dotdot", "points outside the model folder"),
        ("absolute", "points outside the model folder"),
        ("symlink", "is a link or a special file"),
        ("hardlink", "is a link or a special file"),
        ("device", "is a link or a special file"),
    ],
)
def test_unsafe_archives_are_refused_and_install_nothing(kind, message, tmp_path, home, capsys):
    archive = tmp_path / "evil.tar.gz"
    unsafe_archive(archive, kind)
    code, _, err = run(capsys, "models", "install", archive)
    assert code == 2 and "unsafe archive" in one_error(err) and message in err
    assert not (tmp_path.parent / "evil.txt").exists() and not home.exists()


def test_not_a_model_archive_is_refused(tmp_path, home, capsys):
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar file")
    code, _, err = run(capsys, "models", "install", tmp_path / "junk.tar.gz")
    assert code == 2 and "not a readable model archive" in one_error(err)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *arguments):
        pass


@pytest.fixture
def served(packed):
    """`packed`'s folder over HTTP on the loopback interface; yields the archive's URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=packed.parent))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{packed.name}"
    server.shutdown()
    server.server_close()


def test_install_from_a_url_checks_the_published_checksum(served, packed, home, capsys):
    assert run(capsys, "models", "install", served)[0] == 0  # URL.sha256 beside it
    assert (home / "toy_mt" / "manifest.json").is_file()
    packed.with_name("toy_mt.tar.gz.sha256").unlink()
    code, _, err = run(capsys, "models", "install", served, "--name", "other")
    assert code == 2 and "pass --sha256" in one_error(err) and not (home / "other").exists()
    digest = hashlib.sha256(packed.read_bytes()).hexdigest()
    assert run(capsys, "models", "install", served, "--name", "other", "--sha256", digest)[0] == 0
    code, _, err = run(capsys, "models", "install", served.replace("toy_mt", "missing"), "--sha256", digest)
    assert code == 2 and "cannot download" in one_error(err)


def test_a_name_is_looked_up_in_the_user_folder_before_the_shipped_models(toy_translation_dir, home, capsys):
    assert catalog.resolve("general_de_en").parent.name == "saved_models"
    assert run(capsys, "models", "install", toy_translation_dir, "--name", "general_de_en")[0] == 0
    assert catalog.resolve("general_de_en") == home / "general_de_en"
    listed = [model for model in catalog.installed() if model["name"] == "general_de_en"]
    assert [model["hidden"] for model in listed] == [False, True]


def test_shipped_headlines_are_figures_of_their_cards():
    import re

    shipped = [folder for folder in catalog.search_path()[1].iterdir() if catalog.is_model_directory(folder)]
    assert len(shipped) >= 7
    for folder in shipped:
        manifest = json.loads((folder / "manifest.json").read_text())
        card = (folder / "README.md").read_text(encoding="utf-8")
        numbers = re.findall(r"\d+\.\d+", manifest["headline"])
        assert numbers and all(number in card for number in numbers), folder.name
