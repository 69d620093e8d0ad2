"""Download an image from an ``http(s)://`` URL once, safely, into a private cache.

    >>> from nst_tf.image.download import fetch
    >>> path = fetch("https://example.org/cat.jpg")      # doctest: +SKIP

What it promises (and what ``keras.utils.get_file`` did not):

* **Time limits**: ``connect_timeout`` seconds to connect and get an answer,
  ``read_timeout`` seconds of silence at most while reading, ``total_timeout`` for
  the whole download. A server that accepts and never answers ends the run with an
  error instead of hanging it.
* **A size limit**: ``max_bytes`` (default :data:`MAX_BYTES`, or the environment
  variable ``NST_TF_MAX_DOWNLOAD_MB``); a larger answer is refused from its
  ``Content-Length`` or as soon as the limit is passed.
* **Only http and https**, also for redirects (at most :data:`MAX_REDIRECTS`).
* **Only images are kept**: the download goes to a temporary file in the cache
  folder, Pillow must recognise it as an image, and only then is it moved (in one
  step) to its final name, a hash of the URL. An HTML page served with status 200
  is never cached, so the next run asks the server again.
* **Nothing left behind**: on any error, Ctrl-C or SIGTERM the temporary file is
  removed; temporary files of killed processes are removed by the next download.
* **Errors name the URL** (:class:`FetchError`, a :class:`nst_tf.image.arrays.ImageError`).
* **Progress on stderr only**, and only when asked (or stderr is a terminal).

The cache is ``downloads`` in nst-tf's cache folder (``$NST_TF_CACHE`` if set, else
``$XDG_CACHE_HOME/nst-tf`` or ``~/.cache/nst-tf``); it is created readable by its owner only (0700).
This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Iterator, NoReturn, TypeGuard
from urllib.parse import urlparse

from .decode import ImageError
from .._runtime.env import cache_dir
from .._runtime.env import cache_space_problem, megabytes_from_environment
from .._runtime.errors import one_line

__all__ = ["FetchError", "MAX_BYTES", "MAX_REDIRECTS", "downloads_dir", "cached_path", "fetch", "is_url"]

#: Default largest download, in bytes (``NST_TF_MAX_DOWNLOAD_MB`` overrides it).
MAX_BYTES = 64 * 1024 * 1024
#: Default limit of a whole download in seconds (``NST_TF_DOWNLOAD_TIMEOUT_S`` overrides it for the command line).
TOTAL_TIMEOUT = 600.0
#: Most redirects followed.
MAX_REDIRECTS = 5
_SCHEMES = ("http", "https")
_CHUNK = 64 * 1024
_PART_PREFIX = ".download-"
_PART_SUFFIX = ".part"
#: A full disk or quota, while writing into the cache.
_FULL = (errno.ENOSPC, errno.EDQUOT)


class FetchError(ImageError):
    """A URL could not be downloaded as an image; the message is one line naming the URL."""


def is_url(source: object) -> TypeGuard[str]:
    """True for a string starting with ``http://`` or ``https://`` (any case)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def is_remote(location: object) -> bool:
    """``gs://bucket/x``, ``hdfs://...``: a location that only TensorFlow's ``tf.io.gfile`` reads (not a URL)."""
    return isinstance(location, str) and "://" in location and not is_url(location)


def downloads_dir() -> Path:
    """The download cache folder (not created here): ``downloads`` in nst-tf's cache folder (:func:`cache_dir`)."""
    return cache_dir() / "downloads"


def cached_path(url: str) -> Path:
    """Where ``url``'s image is kept: a hash of the URL plus the URL's file extension."""
    suffix = Path(urlparse(url).path).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
        suffix = ""
    return downloads_dir() / f"url-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:32]}{suffix}"


def total_timeout_default() -> float:
    """The whole download's limit in seconds: ``NST_TF_DOWNLOAD_TIMEOUT_S`` if set (checked), else 600."""
    from .._runtime.env import seconds_from_environment

    value = seconds_from_environment("NST_TF_DOWNLOAD_TIMEOUT_S")
    return TOTAL_TIMEOUT if value is None else value


def _max_bytes_default() -> int:
    try:
        limit = megabytes_from_environment("NST_TF_MAX_DOWNLOAD_MB")
    except ValueError as error:
        raise FetchError(str(error)) from None
    return MAX_BYTES if limit is None else limit


def _megabytes(count: float) -> str:
    return f"{count / (1024 * 1024):.1f} MB"


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow at most :data:`MAX_REDIRECTS` redirects, and only to http(s)."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: http.client.HTTPMessage, newurl: str
                         ) -> urllib.request.Request | None:  # noqa: D102 - urllib's hook
        scheme = urlparse(newurl).scheme.lower()
        if scheme not in _SCHEMES:
            raise FetchError(f"could not fetch {self.url}: the server redirects to {newurl}, "
                             "which is not an http(s) URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Deadline:
    """The total limit of one download: at the deadline every socket it opened is shut down, so no
    wait outlasts it -- not a blocked read, not headers that arrive a byte every two seconds."""

    def __init__(self, seconds: float | None):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = None if seconds is None else threading.Timer(max(float(seconds), 0.0), self._expire)
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def handlers(self) -> list:
        deadline = self

        class HTTP(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                deadline.watch(self.sock)

        class HTTPS(http.client.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                deadline.watch(self.sock)

        class HTTPHandler(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(HTTP, req)

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                # HTTPSHandler.__init__ sets _context; typeshed does not declare it
                return self.do_open(HTTPS, req, context=self._context)  # type: ignore[attr-defined]

        return [HTTPHandler(), HTTPSHandler()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. no permission: it exists
        return True
    return True


def _remove_stale_parts(folder: Path) -> None:
    """Remove temporary downloads left by processes that no longer run (killed with SIGKILL)."""
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            match = re.fullmatch(re.escape(_PART_PREFIX) + r"(\d+)-.*" + re.escape(_PART_SUFFIX), entry.name)
            if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    entry.unlink()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`KeyboardInterrupt` (when nobody else handles it)."""
    from .._runtime.signals import terminate_as_interrupt

    with terminate_as_interrupt(only_if_default=True):
        yield


def _is_image(path: Path) -> str | None:
    """``None`` if Pillow recognises ``path`` as an image, else why not."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()
    except Image.DecompressionBombError:
        return None  # an image; load_image refuses it with its own message
    except Exception:  # noqa: BLE001 - anything unreadable
        with contextlib.suppress(OSError):
            with open(path, "rb") as handle:
                head = handle.read(512).lstrip().lower()
            if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
                return "an HTML page"
        return "not an image file Pillow can read"
    return None


def fetch(
    url: str,
    *,
    connect_timeout: float = 15.0,
    read_timeout: float = 30.0,
    total_timeout: float | None = 600.0,
    max_bytes: int | None = None,
    progress: bool | None = None,
    refresh: bool = False,
) -> Path:
    """Download ``url`` (an image) once into the private cache and return the local file.

    A cached copy is used as it is unless ``refresh``. ``progress``: ``None`` shows a
    progress line on stderr when stderr is a terminal, ``True`` always, ``False`` never.
    Raises :class:`FetchError` (one line, naming ``url``) for any failure; Ctrl-C
    (and SIGTERM, unless the program handles it) raise ``KeyboardInterrupt`` after
    removing the temporary file.
    """
    if not is_url(url):
        scheme = urlparse(str(url)).scheme or "no scheme"
        raise FetchError(f"could not fetch {url}: only http:// and https:// URLs are supported ({scheme})")
    limit = _max_bytes_default() if max_bytes is None else int(max_bytes)
    final = cached_path(url)
    if final.is_file() and not refresh and final.stat().st_size > 0:
        return final
    folder = final.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise FetchError(f"could not fetch {url}: cannot create the cache folder {folder}: "
                         f"{one_line(error)}") from None
    _remove_stale_parts(folder)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    with _sigterm_as_interrupt():
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f"{_PART_PREFIX}{os.getpid()}-", suffix=_PART_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                _download(url, handle, connect_timeout, read_timeout, total_timeout, limit, show, folder)
                handle.flush()
                os.fsync(handle.fileno())
            problem = _is_image(Path(temporary))
            if problem is not None:
                raise FetchError(f"could not fetch {url}: the server sent {problem}, not an image")
            os.chmod(temporary, 0o600)
            os.replace(temporary, final)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(error, (FetchError, KeyboardInterrupt, SystemExit, MemoryError)):
                raise
            if isinstance(error, OSError) and error.errno in _FULL:  # the disk filled up while downloading
                raise FetchError(f"could not fetch {url}: no space left in {folder} "
                                 "(NST_TF_CACHE sets the folder)") from None
            if isinstance(error, Exception):
                raise FetchError(f"could not fetch {url}: {one_line(error)}") from None
            raise
    return final


def _limit_wait(response: Any, read_timeout: float, total_timeout: float | None, started: float, url: str) -> None:
    """The socket waits at most ``read_timeout``, and never past the total deadline."""
    wait = read_timeout
    if total_timeout is not None:
        left = total_timeout - (time.monotonic() - started)
        if left <= 0:
            raise FetchError(f"could not fetch {url}: the download took longer than {total_timeout:g} s")
        wait = min(wait, left)
    with contextlib.suppress(Exception):
        response.fp.raw._sock.settimeout(max(wait, 0.01))


def _download(url: str, handle: Any, connect_timeout: float, read_timeout: float,
              total_timeout: float | None, limit: int, show: bool, folder: Path) -> None:
    """Stream ``url`` into ``handle`` (a file in ``folder``) within the limits, printing progress to stderr
    if ``show``."""
    deadline = _Deadline(total_timeout)
    try:
        _stream(url, handle, connect_timeout, read_timeout, total_timeout, limit, show, deadline, folder)
        if deadline.expired:  # the sockets were shut: what arrived is not the whole file
            raise FetchError(f"could not fetch {url}: cut off by the deadline")
    except FetchError:
        if deadline.expired:
            raise FetchError(f"could not fetch {url}: the download took longer than {total_timeout:g} s") from None
        raise
    finally:
        deadline.cancel()


def _stream(url: str, handle: Any, connect_timeout: float, read_timeout: float,
            total_timeout: float | None, limit: int, show: bool, deadline: _Deadline, folder: Path) -> None:
    opener = urllib.request.build_opener(_Redirects(url), *deadline.handlers())
    request = urllib.request.Request(url, headers={"User-Agent": "nst-tf (+https://pypi.org/project/nst-tf/)",
                                                   "Accept": "image/*"})
    started = time.monotonic()
    try:
        response = opener.open(request, timeout=connect_timeout)
    except FetchError:
        raise
    except urllib.error.HTTPError as error:
        raise FetchError(f"could not fetch {url}: {one_line(error)}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        raise FetchError(f"could not fetch {url}: {one_line(error)}") from None
    with response:
        with contextlib.suppress(Exception):  # reads after the answer wait at most read_timeout
            response.fp.raw._sock.settimeout(read_timeout)
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise FetchError(f"could not fetch {url}: it is {_megabytes(int(length))}, over the "
                             f"{_megabytes(limit)} limit (NST_TF_MAX_DOWNLOAD_MB)")
        if length is not None and length.isdigit():  # the size is known: room for it before the first byte
            problem = cache_space_problem(folder, int(length))
            if problem is not None:
                raise FetchError(f"could not fetch {url}: {problem}")
        received, shown = 0, 0.0
        try:
            while True:
                # read1: whatever has arrived (a server dripping a byte at a time cannot hold one read
                # for ever), each wait at most until the total deadline.
                _limit_wait(response, read_timeout, total_timeout, started, url)
                chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                if received > limit:
                    raise FetchError(f"could not fetch {url}: it is larger than the {_megabytes(limit)} limit "
                                     "(NST_TF_MAX_DOWNLOAD_MB)")
                handle.write(chunk)
                now = time.monotonic()
                if total_timeout is not None and now - started > total_timeout:
                    raise FetchError(f"could not fetch {url}: the download took longer than {total_timeout:g} s")
                if show and now - shown > 0.2:
                    shown = now
                    total = f" of {_megabytes(int(length))}" if length and length.isdigit() else ""
                    print(f"\rdownloading {url}: {_megabytes(received)}{total}", end="", file=sys.stderr, flush=True)
        except FetchError:
            raise
        except OSError as error:
            if error.errno in _FULL:
                raise  # writing, not reading, failed: fetch says where
            _read_failed(url, error, total_timeout, started, received)
        except (ValueError, urllib.error.URLError, http.client.HTTPException) as error:
            _read_failed(url, error, total_timeout, started, received)
        finally:
            if show and shown:
                print(file=sys.stderr, flush=True)
        if length is not None and length.isdigit() and received < int(length):
            raise FetchError(f"could not fetch {url}: the connection closed after {received} of {length} bytes")
        if received == 0:
            raise FetchError(f"could not fetch {url}: the server sent nothing")


def _read_failed(url: str, error: BaseException, total_timeout: float | None, started: float,
                 received: int) -> NoReturn:
    """Raise the one-line :class:`FetchError` for a read that failed after ``received`` bytes."""
    if total_timeout is not None and time.monotonic() - started >= total_timeout:
        raise FetchError(f"could not fetch {url}: the download took longer than {total_timeout:g} s") from None
    raise FetchError(f"could not fetch {url}: {one_line(error)} after {_megabytes(received)}") from None
