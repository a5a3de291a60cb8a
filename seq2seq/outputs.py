"""Writing files and folders atomically, outputs that are not regular files, and the overwrite policy.

The one guarantee of the writers: the previous content stays intact until
the new one is complete; a crash, a full disk or an interrupt leaves the old
content or the new, never a mixture or a partial file (for folders, see
:func:`atomic_directory` for the one instant between its two renames).

Outputs that are not regular files: a symbolic link is followed (the file or
folder it points to is replaced, the link stays); a pipe (a FIFO, `/dev/fd/N`
of a process substitution), a character device (`/dev/null`, a terminal) or a
socket is written to as a stream by :func:`atomic_write`, never replaced (a
stream cannot be replaced atomically: a reader sees what was written); a
block device is refused, as are stream outputs for writers that need a file
name (:func:`atomic_path`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from seq2seq.errors import UserError

_UMASK = os.umask(0o022)  # read once at import (setting it is the only way to read it), then put back
os.umask(_UMASK)


DESCRIPTOR_PATHS = re.compile(r"/dev/(?:std(in|out|err)|fd/(\d+))|/proc/self/fd/(\d+)")


def descriptor_of(path: str | os.PathLike) -> int | None:
    """The file descriptor that `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` or `/proc/self/fd/N` names, else None."""
    match = DESCRIPTOR_PATHS.fullmatch(os.fspath(path))
    if match is None:
        return None
    if match[1]:
        return {"in": 0, "out": 1, "err": 2}[match[1]]
    return int(match[2] or match[3])


def is_stream(path: str | os.PathLike) -> bool:
    """Whether `path` is written to as a stream, never replaced: a pipe, a character device, a socket, or a
    descriptor path (`/dev/stdout`, `/dev/fd/N`: whatever it points to, a shell's `>>` file included)."""
    if descriptor_of(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def followed(path: str | os.PathLike) -> Path:
    """`path`, or where it points when it is a symbolic link (a loop is an error naming it)."""
    path = Path(path)
    if not path.is_symlink() or is_stream(path):  # /dev/fd/N links to "pipe:[...]", which is no path
        return path
    try:
        return path.resolve(strict=False)
    except (RuntimeError, OSError):
        raise UserError(f"{path}: a loop of symbolic links; choose another output path.") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yields a temporary file name beside `path` (same suffix); renames it over `path` on success.

    For writers that want a file name rather than a handle (Keras'
    `save_weights` needs the `.weights.h5` suffix). The temporary name starts
    with `.NAME.` and ends in `.partial` before the suffix, so a partial file
    left by a killed process is recognisable; see :func:`partial_files`.
    """
    path = followed(path)
    check_output_path(path)
    if is_stream(path):
        raise UserError(
            f"{path}: is a pipe or a device; this output must be a regular file (it is renamed into place)."
        )
    suffix = "".join(path.suffixes) or ".tmp"
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".partial{suffix}")
        os.close(descriptor)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        if isinstance(error, OSError) and error.errno in WRITE_FAULTS:
            raise UserError(
                f"{path}: cannot write it ({os.strerror(error.errno)}); the previous content, if "
                "any, is unchanged. Free space or choose a writable place."
            ) from None
        raise


WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR}


def check_output_path(path: str | os.PathLike) -> None:
    """Raises `UserError` when `path` cannot be an output file: a directory, or under a file or an unwritable folder.

    Commands call it before long work, so a bad `-o` fails at once.
    """
    path = followed(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a file name for the output.")
    if path.is_block_device():
        raise UserError(f"{path}: is a block device; seq2seq never writes to one. Choose a file.")
    if is_stream(path):
        return  # written to as a stream
    check_writable_place(path)


SPECIAL_FILE_SYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))  # the kernel's, not for files of ours
SCRATCH = Path("/dev/shm")  # an ordinary tmpfs, under /dev by convention


def check_writable_place(path: str | os.PathLike, inside: bool = False) -> None:
    """Raises `UserError` when `path` (a file or folder to create or replace) lies under a file, in a folder
    that is not writable, or on a special file system (`/proc`, `/sys`, `/dev` except `/dev/shm`).

    With `inside` (a run folder, written into but never replaced), an existing `path` must be a writable
    folder itself; its parent need not be writable.
    """
    path = followed(path)
    absolute = Path(os.path.abspath(path))

    def under(folder: Path) -> bool:
        return absolute == folder or folder in absolute.parents

    if any(under(special) for special in SPECIAL_FILE_SYSTEMS) and not under(SCRATCH):
        raise UserError(f"{path}: lies on a special file system ({absolute.parts[1]}); choose another output path.")
    if inside and path.is_dir():
        if not os.access(path, os.W_OK):
            raise UserError(f"{path}: the folder is not writable; choose another one.")
        return
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{path}: {ancestor} is a file, not a folder; choose another output path.")
    if not os.access(ancestor, os.W_OK):
        raise UserError(f"{path}: the folder {ancestor} is not writable; choose another output path.")


def partial_files(folder: str | os.PathLike) -> list[Path]:
    """Temporary files of :func:`atomic_path` left in `folder` by a killed process."""
    return sorted(Path(folder).glob(".*.partial*"))


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Opens a temporary file beside `path`; renames it over `path` only on success.

    A crash, a full disk or an interrupt leaves either the old file or no file,
    never a partial one. A pipe or a character device is written to directly.
    """
    if is_stream(path):
        descriptor, text_encoding = descriptor_of(path), None if "b" in mode else encoding
        try:  # a descriptor path is written through a copy of the descriptor: its offset and O_APPEND are kept
            target = path if descriptor is None else os.dup(descriptor)
            stream = open(target, mode, encoding=text_encoding)
        except OSError as error:
            raise UserError(f"{path}: cannot write to it ({os.strerror(error.errno or 0)}).") from None
        try:
            with stream as handle:
                yield handle
        except OSError as error:  # a full device, a closed reader: a fault of the output
            if error.errno not in WRITE_FAULTS | {errno.ENOSPC, errno.EIO}:
                raise
            raise UserError(f"{path}: cannot write to it ({os.strerror(error.errno)}).") from None
        return
    with atomic_path(path) as temporary:
        binary = "b" in mode
        with open(temporary, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike):
    """Yields a temporary folder beside `path`; on success it replaces `path` whole.

    Until the new folder is complete the old one stays in place untouched;
    then the old one is renamed to `.NAME.old`, the new one renamed into
    place, and the old one removed. If the second rename fails, the old folder
    is renamed back. On an error the temporary folder is removed and the old
    one is left as it was. (A process killed in the instant between the two
    renames leaves the old content in `.NAME.old` and the new one complete in
    its temporary folder.)
    """
    path = followed(path)
    check_writable_place(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: is a file, not a folder; choose another output path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(temporary, 0o777 & ~_UMASK)
    try:
        yield temporary
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        try:
            os.replace(temporary, path)
        except BaseException:
            if old is not None:
                os.replace(old, path)
            raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_directory(path: str | os.PathLike) -> list[Path]:
    """Undoes what a process killed inside :func:`atomic_directory` for `path` left; returns what it removed.

    A kill between the two renames leaves no `path` but the previous content
    in `.NAME.old`: it is put back. Temporary folders (`.NAME.*.tmp`) of an
    unfinished write, and an `.NAME.old` beside a complete `path`, are
    removed. Call it only while no other process may be writing `path` (the
    run folder's lock).
    """
    path = Path(path)
    old = path.with_name(f".{path.name}.old")
    if old.is_dir() and not path.exists():
        os.replace(old, path)
    leftovers = sorted(path.parent.glob(f".{path.name}.*.tmp")) + ([old] if old.is_dir() else [])
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
    return leftovers


def check_replaceable(path: str | os.PathLike, is_previous_output: Callable[[Path], bool], what: str) -> None:
    """Raises `UserError` unless `--overwrite` may replace the folder `path`.

    It may when `path` does not exist, or is a folder that
    `is_previous_output` recognises, by its content, as an earlier output of
    the same command; never the current folder or a folder above it.
    """
    path = Path(path)
    check_writable_place(path)
    resolved, here = path.resolve(), Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise UserError(
            f"{path}: is the current folder or one above it; --overwrite never replaces those. "
            f"Name a new folder for the {what}."
        )
    if path.exists() and not (path.is_dir() and is_previous_output(path)):
        raise UserError(
            f"{path}: exists and is not a {what} written by seq2seq; --overwrite replaces only "
            "such a folder. Choose another path."
        )
