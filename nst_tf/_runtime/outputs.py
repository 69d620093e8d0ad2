"""Check every output before the work, and keep the work when writing still fails at the end.

A run that cannot write its result should fail in its first second, not after an hour.
:func:`probe_output` tries, in the target folder, what the final save will do: a file of
the final name (created and removed at once, only when the name is free), a file of the
temporary name's length (:func:`nst_tf.safefile.publish` writes one beside the target),
a few kilobytes written and flushed, and the free space the result will need. It raises
:class:`OutputError` (a ``ValueError``) with one line naming the file and the reason:
the name too long for the file system, a read-only or unwritable folder, a full disk.

:func:`probe_folder` does the same for a folder that will receive many files
(``train-fast --checkpoint-dir``), creating nothing that was not there.

Some failures can only happen at the end (the disk fills up during the run, the folder
is removed). :func:`write_or_rescue` then writes the result under a short name that
works -- beside the target, else in the current folder, else in the temporary folder --
and says where, so finished work is never lost. No TensorFlow here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .safefile import TEMPORARY_STEM

__all__ = ["OutputError", "check_name_length", "probe_output", "probe_folder", "write_or_rescue", "RESCUE_PREFIX"]

#: Name start of a result kept elsewhere because its own name could not be written.
RESCUE_PREFIX = "nst-tf-rescued"
#: Bytes the probe writes and flushes (a full disk refuses them; a nearly full one is caught by the estimate).
PROBE_BYTES = 4096
#: Free space kept on top of the estimated size of a result.
MARGIN_BYTES = 1 << 20


class OutputError(ValueError):
    """An output could not be written there; the message is one line naming it."""


def _name_max(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    return 255


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOSPC or error.errno == errno.EDQUOT:
        return "no space left on the device"
    if error.errno == errno.EROFS:
        return "the file system is read-only"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.ENAMETOOLONG:
        return "the name is too long for this file system"
    return " ".join((error.strerror or str(error)).split())


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count < 1e9 else f"{count / 1e9:.1f} GB"


def _try_write(path: Path, size: int) -> None:
    """Create ``path`` (it must not exist), write and flush ``size`` bytes, remove it."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        if size:
            os.write(fd, b"\0" * size)
            os.fsync(fd)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)


def _check_space(folder: Path, need_bytes: int, shown: str) -> None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need_bytes and free < need_bytes + MARGIN_BYTES:
        raise OutputError(f"cannot save {shown}: {_megabytes(free)} free in {os.fspath(folder)}, the result needs "
                          f"about {_megabytes(need_bytes)}")


def check_name_length(path: str | os.PathLike, shown: str | None = None) -> None:
    """Refuse a file name longer than its folder's file system allows (checked without touching the disk)."""
    out = Path(path).expanduser()
    shown = os.fspath(path) if shown is None else shown
    limit = _name_max(out.parent if out.parent.is_dir() else Path("."))
    length = len(os.fsencode(out.name))
    if length > limit:
        raise OutputError(f"cannot save {shown}: its name is {length} bytes long; this file system allows at most "
                          f"{limit}")


def probe_output(path: str | os.PathLike, need_bytes: int = 0, shown: str | None = None) -> Path:
    """Refuse now an output file that could not be written at the end (see the module docstring).

    ``need_bytes``: an estimate of the result's size (checked against the free space).
    ``shown``: how the message names the file (default: ``path``). Returns the path.
    """
    out = Path(path).expanduser()
    shown = os.fspath(path) if shown is None else shown
    folder = out.parent
    check_name_length(out, shown)
    probes = [folder / f".{out.name[:TEMPORARY_STEM]}.nsttf-{os.getpid()}-probe.tmp"]
    if not out.exists() and not out.is_symlink():
        probes.insert(0, out)  # the final name itself, created and removed at once
    for probe in probes:
        try:
            _try_write(probe, PROBE_BYTES if probe is probes[-1] else 0)
        except FileExistsError:
            continue  # appeared meanwhile: the name is fine; check_output decides about replacing it
        except OSError as error:
            raise OutputError(f"cannot save {shown}: {_reason(error)}") from None
    _check_space(folder, need_bytes, shown)
    return out


def probe_folder(folder: str | os.PathLike, need_bytes: int = 0, shown: str | None = None) -> None:
    """A folder that will get files: it (or the folder it will be made in) must take a file and ``need_bytes``."""
    path = Path(folder).expanduser()
    shown = os.fspath(folder) if shown is None else shown
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{shown}: {os.fspath(existing)} is not a folder")
    try:
        _try_write(existing / f".nsttf-{os.getpid()}-probe.tmp", PROBE_BYTES)
    except OSError as error:
        raise OutputError(f"{shown}: cannot write there: {_reason(error)}") from None
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        return
    if need_bytes and free < need_bytes + MARGIN_BYTES:
        raise OutputError(f"{shown}: {_megabytes(free)} free there, but a checkpoint needs about "
                          f"{_megabytes(need_bytes)}")


def _rescue_places(out: Path) -> list[Path]:
    places = [out.parent, Path.cwd(), Path(tempfile.gettempdir())]
    unique: list[Path] = []
    for place in places:
        with contextlib.suppress(OSError):
            place = place.resolve()
        if place not in unique:
            unique.append(place)
    return unique


def write_or_rescue(write: Callable[[Path], object], out: str | os.PathLike, note: Callable[[str], None],
                    keep: tuple[type[BaseException], ...] = ()) -> Path | None:
    """``write(out)``; if that fails with an ``OSError`` or ``ValueError`` (not one of ``keep``), write the
    result under ``nst-tf-rescued-<pid><suffix>`` where that works and tell ``note`` where.

    Returns ``None`` when ``out`` was written, else the rescue's path. Raises the first
    error when no place took the result either.
    """
    target = Path(out)
    try:
        write(target)
        return None
    except keep:
        raise
    except (OSError, ValueError) as error:
        first = error
    for place in _rescue_places(target):
        rescue = place / f"{RESCUE_PREFIX}-{os.getpid()}{target.suffix}"
        with contextlib.suppress(OSError, ValueError):
            if rescue.exists():
                continue
            write(rescue)
            reason = " ".join(str(first).split())
            note(f"could not write {os.fspath(out)} ({reason}); the result is kept in {os.fspath(rescue)}")
            return rescue
    raise first
