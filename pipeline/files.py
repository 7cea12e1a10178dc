"""Writing files without ever losing the user's data.

Every file stylecam writes goes to a hidden temporary name beside its target (`.out.mp4.part`) and is
renamed over the target only once complete, so an error, Ctrl-C, SIGTERM or a full disk leaves either
the finished file or nothing new, and an earlier file of that name survives a failed run. The finished
file gets the permissions a plain open() would give it (0666 less the umask): some writers (safetensors,
mkstemp) create 0600 files.

Imports nothing heavy: the command line uses it to check paths before torch is loaded.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _read_umask() -> int:
    mask = os.umask(0o022)  # read once at import, in the main thread: os.umask has no getter
    os.umask(mask)
    return mask


UMASK = _read_umask()


def temp_name(path: str | os.PathLike) -> Path:
    """`out.mp4` -> `.out.mp4.part`: hidden, beside the target (same file system), and visibly unfinished."""
    path = Path(path)
    return path.with_name(f".{path.name}.part")


def publish(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move a complete temporary file over its target, with the umask's permissions."""
    os.chmod(tmp, 0o666 & ~UMASK)
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yields the temporary path to write; published on success, removed on any exception."""
    tmp = temp_name(target)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    publish(tmp, target)


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_output(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(target, text.encode())


def cache_dir(kind: str) -> Path:
    """stylecam's cache folder for one kind of derived file (~/.cache/stylecam/KIND, or under $XDG_CACHE_HOME):
    work that is costly to redo and safe to lose (exported ONNX models, optima of the loss)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stylecam" / kind


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two spellings name one file or folder (symlinks, '..', hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet
        return Path(a).resolve() == Path(b).resolve()


def writable_file_problem(path: str | os.PathLike) -> str | None:
    """Why a file cannot be written at `path` (its folder missing or read-only, or it is a folder), or None."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"is a folder, not a file: {path}"
    if not folder.is_dir():
        return f"folder does not exist: {folder}"
    if not os.access(folder, os.W_OK) or not _can_create_in(folder):
        return f"folder is not writable: {folder}"
    return None


def _can_create_in(folder: Path) -> bool:
    """os.access says yes to root everywhere, read-only mounts and /proc included: try it."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".stylecam-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True
