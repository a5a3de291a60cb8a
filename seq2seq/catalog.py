"""Models by name: where installed models are looked up, and listing, packing and installing them.

A model is given as a path to a model directory or as a name. A name is
looked up, in this order, in

1. the user's model folder: `$SEQ2SEQ_HOME/models` when `SEQ2SEQ_HOME` is
   set, else `$XDG_DATA_HOME/seq2seq/models` (by default
   `~/.local/share/seq2seq/models`); `seq2seq models install` puts models here;
2. the shipped models: `saved_models/` of the source tree (a clone, or an
   editable install) and the copy a wheel carries (`seq2seq/saved_models`,
   the default translation model only).

A packed model is a gzipped tar archive of one model directory (its files
at the top level) with its SHA-256 in `ARCHIVE.sha256` beside it.
Installing refuses an archive that holds anything but plain files and
folders inside itself (absolute paths, `..`, links, devices), or whose
checksum differs, and installs nothing then.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from seq2seq.errors import UserError
from seq2seq.outputs import atomic_directory, atomic_write, check_replaceable

ENVIRONMENT = "SEQ2SEQ_HOME"
KINDS = {  # manifest kind -> task, as `models list` shows it
    "seq2seq-translation/1": "translation",
    "seq2seq-language-model/1": "language model",
    "seq2seq-perception/1": "perception",  # shown as its config's data.task: speech or captions
}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_ARCHIVE_BYTES = 2 * 1024**3  # a download or an unpacked archive larger than this is refused
DEFAULT_TRANSLATION_MODEL = "general_de_en"


def user_folder() -> Path:
    """Where `models install` puts models (see the module doc)."""
    if os.environ.get(ENVIRONMENT):
        return Path(os.environ[ENVIRONMENT]).expanduser() / "models"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data).expanduser() / "seq2seq" / "models"


def search_path() -> list[Path]:
    """The folders a model name is looked up in, first match wins: the user folder, then the shipped models'."""
    package = Path(__file__).resolve().parent
    shipped = [folder for folder in (package.parent / "saved_models", package / "saved_models") if folder.is_dir()]
    return list(dict.fromkeys([user_folder(), *shipped]))


def is_model_directory(path: Path) -> bool:
    return (path / "manifest.json").is_file() and (path / "model.keras").is_file()


def resolve(name_or_path: str | os.PathLike) -> Path:
    """The model directory of a path or an installed model's name; `UserError` naming where it looked."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    text = str(name_or_path)
    if NAME.fullmatch(text):
        for folder in search_path():
            if is_model_directory(folder / text):
                return folder / text
        places = ", ".join(str(folder) for folder in search_path())
        raise UserError(
            f"{text}: no such model directory, and no installed model of that name (looked in {places}). "
            "`seq2seq models list` shows the installed models."
        )
    raise UserError(f"{text}: model directory not found.")


def _manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _task(directory: Path, manifest: dict) -> str:
    task = KINDS.get(manifest.get("kind"), str(manifest.get("kind", "?")))
    if task == "perception":
        from seq2seq.config import parse_yaml

        try:
            config = parse_yaml((directory / "config.yaml").read_text(encoding="utf-8"))
            return str(config["data"]["task"])
        except Exception:  # noqa: BLE001 -- no config, or not the toolkit's: the kind alone
            return task
    return task


def _headline(directory: Path, manifest: dict) -> str:
    if isinstance(manifest.get("headline"), str):
        return manifest["headline"]
    try:
        metrics = json.loads((directory / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return ""
    for key, label in (("valid_bleu", "validation BLEU"), ("valid_perplexity", "validation perplexity")):
        if isinstance(metrics, dict) and isinstance(metrics.get(key), (int, float)):
            return f"{metrics[key]:.2f} {label}"
    return ""


def installed() -> list[dict]:
    """Every model on the search path: name, task, languages, size, headline, path, and whether a model of the
    same name earlier on the path hides it."""
    models, seen = [], set()
    for folder in search_path():
        if not folder.is_dir():
            continue
        for directory in sorted(path for path in folder.iterdir() if is_model_directory(path)):
            manifest = _manifest(directory)
            size = sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())
            models.append(
                {
                    "name": directory.name,
                    "task": _task(directory, manifest),
                    "languages": str(manifest.get("languages", "")),
                    "size_mb": round(size / 1e6, 1),
                    "headline": _headline(directory, manifest),
                    "path": str(directory),
                    "hidden": directory.name in seen,
                }
            )
            seen.add(directory.name)
    return models


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack(directory: str | os.PathLike, output: str | os.PathLike) -> str:
    """Writes `output` (a .tar.gz of the model directory's files) and `output.sha256`; returns the SHA-256."""
    directory, output = Path(directory), Path(output)
    if not is_model_directory(directory):
        raise UserError(f"{directory}: not a model directory (no manifest.json and model.keras).")
    with atomic_write(output, "wb") as handle:
        with tarfile.open(fileobj=handle, mode="w:gz") as archive:
            for path in sorted(directory.rglob("*")):
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    raise UserError(f"{path}: not a plain file or folder; a packed model holds only those.")
                if path.is_file():
                    archive.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
    digest = sha256_of(output)
    with atomic_write(Path(f"{output}.sha256")) as handle:
        handle.write(f"{digest}  {output.name}\n")
    return digest


def _checked_members(archive: tarfile.TarFile, source: str) -> list[tarfile.TarInfo]:
    members, total = archive.getmembers(), 0
    for member in members:
        parts = Path(member.name).parts
        if member.name.startswith(("/", "\\")) or Path(member.name).is_absolute() or ".." in parts:
            raise UserError(f"{source}: unsafe archive: member {member.name!r} points outside the model folder.")
        if not (member.isfile() or member.isdir()):
            raise UserError(f"{source}: unsafe archive: member {member.name!r} is a link or a special file.")
        total += member.size
        if total > MAX_ARCHIVE_BYTES:
            raise UserError(f"{source}: the archive unpacks to more than {MAX_ARCHIVE_BYTES:,} bytes; refused.")
    return members


def _fetch(url: str, destination: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as handle:  # noqa: S310
            copied = 0
            for block in iter(lambda: response.read(1 << 20), b""):
                copied += len(block)
                if copied > MAX_ARCHIVE_BYTES:
                    raise UserError(f"{url}: larger than {MAX_ARCHIVE_BYTES:,} bytes; refused.")
                handle.write(block)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise UserError(f"{url}: cannot download ({error}).") from None


def _expected_digest(source: str, given: str | None, local: Path, temporary: Path) -> str | None:
    if given is not None:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", given):
            raise UserError(f"--sha256: {given!r} is not a SHA-256 (64 hexadecimal digits).")
        return given.lower()
    if source.startswith(("http://", "https://")):
        sidecar = temporary / "archive.sha256"
        try:
            _fetch(f"{source}.sha256", sidecar)
        except UserError:
            raise UserError(
                f"{source}: no {source}.sha256 beside it; pass --sha256 with the published checksum."
            ) from None
    else:
        sidecar = Path(f"{local}.sha256")
        if not sidecar.is_file():
            return None  # a local archive without a checksum file: trusted as the user's own
    words = sidecar.read_text(encoding="utf-8", errors="replace").split()
    if not words or not re.fullmatch(r"[0-9a-fA-F]{64}", words[0]):
        raise UserError(f"{source}.sha256: does not hold a SHA-256.")
    return words[0].lower()


def install(source: str, name: str | None = None, sha256: str | None = None, overwrite: bool = False) -> Path:
    """Installs a model directory, or a packed archive from a path or an HTTP(S) URL, into the user folder.

    Returns the installed directory. On any error nothing is installed.
    """
    from seq2seq.model_dirs import check_model_directory

    remote = source.startswith(("http://", "https://"))
    with tempfile.TemporaryDirectory() as folder:
        temporary = Path(folder)
        local = temporary / "archive.tar.gz" if remote else Path(source)
        if remote:
            _fetch(source, local)
        elif not local.exists():
            raise UserError(f"{source}: no such file or folder.")
        if local.is_dir():
            unpacked = local
        else:
            expected = _expected_digest(source, sha256, local, temporary)
            if expected is not None and sha256_of(local) != expected:
                raise UserError(f"{source}: SHA-256 is {sha256_of(local)}, expected {expected}; nothing installed.")
            unpacked = temporary / "model"
            try:
                with tarfile.open(local, "r:*") as archive:
                    members = _checked_members(archive, source)
                    safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python 3.10.12+
                    archive.extractall(unpacked, members=members, **safety)  # noqa: S202 -- members checked
            except (tarfile.TarError, EOFError, OSError) as error:
                raise UserError(f"{source}: not a readable model archive ({error}).") from None
        name = name or (Path(source.rstrip("/")).name.split(".")[0] if not local.is_dir() else local.name)
        if not NAME.fullmatch(name):
            raise UserError(f"{name!r}: not a model name (letters, digits, '.', '_' and '-'); pass --name.")
        kind = _manifest(unpacked).get("kind")
        if kind not in KINDS:
            raise UserError(f"{source}: not a model directory of this toolkit (manifest kind {kind!r}).")
        check_model_directory(unpacked, kind, ("model.keras",))
        target = user_folder() / name
        if target.exists() and not overwrite:
            raise UserError(f"{target}: a model of that name is installed; pass --overwrite to replace it.")
        check_replaceable(target, is_model_directory, "model directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_directory(target) as staging:
            for path in unpacked.rglob("*"):
                if path.is_file():
                    (staging / path.relative_to(unpacked)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, staging / path.relative_to(unpacked))
    return target
