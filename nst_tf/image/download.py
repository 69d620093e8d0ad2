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
import hashlib
import http.client
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

from .decode import ImageError
from .._runtime.env import cache_dir as _cache_root
from .._runtime.env import megabytes_from_environment
from .._runtime.errors import one_line

__all__ = ["FetchError", "MAX_BYTES", "MAX_REDIRECTS", "cache_dir", "cached_path", "fetch", "is_url"]

#: Default largest download, in bytes (``NST_TF_MAX_DOWNLOAD_MB`` overrides it).
MAX_BYTES = 64 * 1024 * 1024
#: Most redirects followed.
MAX_REDIRECTS = 5
_SCHEMES = ("http", "https")
_CHUNK = 64 * 1024
_PART_PREFIX = ".download-"
_PART_SUFFIX = ".part"


class FetchError(ImageError):
    """A URL could not be downloaded as an image; the message is one line naming the URL."""


def is_url(source: object) -> bool:
    """True for a string starting with ``http://`` or ``https://`` (any case)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def is_remote(location: object) -> bool:
    """``gs://bucket/x``, ``hdfs://...``: a location that only TensorFlow's ``tf.io.gfile`` reads (not a URL)."""
    return isinstance(location, str) and "://" in location and not is_url(location)


def cache_dir() -> Path:
    """The download cache folder (not created here): ``downloads`` in nst-tf's cache folder."""
    return _cache_root() / "downloads"


def cached_path(url: str) -> Path:
    """Where ``url``'s image is kept: a hash of the URL plus the URL's file extension."""
    suffix = Path(urlparse(url).path).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
        suffix = ""
    return cache_dir() / f"url-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:32]}{suffix}"


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

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        scheme = urlparse(newurl).scheme.lower()
        if scheme not in _SCHEMES:
            raise FetchError(f"could not fetch {self.url}: the server redirects to {newurl}, "
                             "which is not an http(s) URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


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
                _download(url, handle, connect_timeout, read_timeout, total_timeout, limit, show)
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
            if isinstance(error, Exception):
                raise FetchError(f"could not fetch {url}: {one_line(error)}") from None
            raise
    return final


def _download(url: str, handle: Any, connect_timeout: float, read_timeout: float,
              total_timeout: float | None, limit: int, show: bool) -> None:
    """Stream ``url`` into ``handle`` within the limits, printing progress to stderr if ``show``."""
    opener = urllib.request.build_opener(_Redirects(url))
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
        received, shown = 0, 0.0
        try:
            while True:
                chunk = response.read(_CHUNK)
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
        except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException) as error:
            raise FetchError(f"could not fetch {url}: {one_line(error)} after {_megabytes(received)}") from None
        finally:
            if show and shown:
                print(file=sys.stderr, flush=True)
        if length is not None and length.isdigit() and received < int(length):
            raise FetchError(f"could not fetch {url}: the connection closed after {received} of {length} bytes")
        if received == 0:
            raise FetchError(f"could not fetch {url}: the server sent nothing")
