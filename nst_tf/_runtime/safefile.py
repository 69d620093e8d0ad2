"""Write a file so that no one ever sees half of it, and never replace a file by accident.

:func:`publish` is the one way nst-tf writes results (images and models):

1. remove temporary files that killed processes left in the folder
   (:func:`remove_stale_temporaries`; their names carry the writer's process id);
2. write to a hidden temporary file beside the target, flush it and ``fsync`` it;
3. move it into place: with ``overwrite``, ``os.replace``; without, ``os.link`` (which
   fails if the name exists, so a file another run created in the meantime is never
   replaced), then remove the temporary name. Where hard links are not supported
   (some network and FAT file systems), the name is claimed with ``O_CREAT | O_EXCL``
   first and then replaced;
4. ``fsync`` the folder, so the new name survives a crash.

On any error, Ctrl-C or SIGTERM (see :mod:`nst_tf._runtime.signals`) the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["FileExists", "publish", "remove_stale_temporaries", "temporary_name_pattern"]

_MARK = "nsttf"
#: Temporary names: ``.<target name>.nsttf-<pid>-<random>.<tmp|keras>``.
temporary_name_pattern = re.compile(r"^\..+\." + _MARK + r"-(\d+)-[A-Za-z0-9_]+\.(tmp|keras)$")


class FileExists(FileExistsError):
    """The target appeared while we were writing and ``overwrite`` was not given."""


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files of dead nst-tf processes in ``folder``; returns what was removed."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            match = temporary_name_pattern.match(entry.name)
            if match and not _pid_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def _default_mode(out: Path) -> int:
    with contextlib.suppress(OSError):
        return out.stat().st_mode & 0o7777
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_path(path: str | os.PathLike, directory: bool = False) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _link_no_replace(temporary: str, out: Path) -> None:
    """Give ``temporary`` the name ``out`` unless ``out`` exists (then :class:`FileExists`)."""
    try:
        os.link(temporary, out)
    except FileExistsError:
        raise FileExists(errno.EEXIST, "already exists", os.fspath(out)) from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK,
                               errno.ENOSYS, errno.EACCES):
            raise
        # No hard links here: claim the name atomically, then put the file in its place.
        try:
            fd = os.open(out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise FileExists(errno.EEXIST, "already exists", os.fspath(out)) from None
        os.close(fd)
        os.replace(temporary, out)
        return
    os.unlink(temporary)


def publish(write: Callable[[str], None], out: str | os.PathLike, *, overwrite: bool = True,
            suffix: str = ".tmp", mode: int | None = None) -> Path:
    """Call ``write(temporary_path)``, then move the result to ``out`` (see the module docstring).

    ``suffix`` is the temporary file's ending (``.keras`` for Keras, which checks it).
    Raises :class:`FileExists` when ``out`` exists and ``overwrite`` is false; other
    ``OSError``s and whatever ``write`` raises pass through, the temporary file removed.
    """
    out = Path(out)
    folder = out.parent
    remove_stale_temporaries(folder)
    permissions = _default_mode(out) if mode is None else mode
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.{_MARK}-{os.getpid()}-", suffix=suffix)
    os.close(fd)
    try:
        write(temporary)
        _fsync_path(temporary)
        with contextlib.suppress(OSError):
            os.chmod(temporary, permissions)
        if overwrite:
            os.replace(temporary, out)
        else:
            _link_no_replace(temporary, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_path(folder, directory=True)
    return out
