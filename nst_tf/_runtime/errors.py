"""The one error helper: any exception (or text) as one line, for the one-line messages nst-tf prints."""

from __future__ import annotations

import socket
import urllib.error

__all__ = ["one_line"]


def one_line(error: BaseException | object) -> str:
    """An exception's text squeezed onto one line, or its type name when it has none; text is squeezed too.

    ``KeyError('x')`` gives ``x`` (not ``'x'``), an ``OSError`` with a file ``file: reason``, an HTTP error
    ``HTTP 404 Not Found``, a URL error its reason and a timeout ``timed out``.
    """
    if not isinstance(error, BaseException):
        return " ".join(str(error).split())
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}".strip()
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    elif isinstance(error, urllib.error.URLError):
        return " ".join(str(error.reason).split()) or type(error).__name__
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    elif isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error)
    text = " ".join(text.split())
    if isinstance(error, OSError) and error.strerror and not text:
        text = error.strerror
    return text or type(error).__name__
