"""Issue 16, point 2: the URL fetcher (nst_tf/image/download.py) against a local HTTP server.

The server runs in a thread of the test on 127.0.0.1; no test touches the internet.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_tf.image import load_image
from nst_tf.image import download as fetch

from cli_runs import ctrl_c_reaches_it

ROOT = Path(__file__).resolve().parents[2]


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 50, 3), 128, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png_bytes()
BIG = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()


class Server:
    """What each path answers; ``release`` lets handlers that wait forever go at the end."""

    def __init__(self):
        self.release = threading.Event()
        self.fixed = False  # /page serves HTML until the "server is fixed"
        self.hits: dict[str, int] = {}
        self.big_png = self._big_png()

    @staticmethod
    def _big_png() -> bytes:
        buffer = io.BytesIO()
        noise = np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8)
        Image.fromarray(noise).save(buffer, format="PNG")
        return buffer.getvalue()


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("NST_TF_CACHE", str(tmp_path / "cache"))
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status, body, kind="image/png", length=None):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            state.hits[path] = state.hits.get(path, 0) + 1
            if path == "/cat.png":
                self._send(200, PNG)
            elif path == "/silent":  # accepts the connection, never answers
                state.release.wait(30)
            elif path == "/huge.png":  # announces 200 MB
                self._send(200, BIG[:1000], length=200 * 1024 * 1024)
            elif path == "/endless.png":  # no length, keeps sending
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                with_stop = 0
                while not state.release.is_set() and with_stop < 2000:
                    try:
                        self.wfile.write(BIG[:65536])
                    except OSError:
                        return
                    with_stop += 1
            elif path == "/page.png":
                if state.fixed:
                    self._send(200, PNG)
                else:
                    self._send(200, b"<!DOCTYPE html><html><body>Welcome!</body></html>", kind="text/html")
            elif path == "/to-ftp.png":
                self.send_response(302)
                self.send_header("Location", "ftp://127.0.0.1/cat.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/moved.png":
                self.send_response(301)
                self.send_header("Location", "/cat.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/stalls.png":  # half the picture, then silence (until fixed)
                body = state.big_png
                if state.fixed:
                    self._send(200, body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                state.release.wait(30)
            elif path == "/missing.png":
                self._send(404, b"not found", kind="text/plain")
            else:
                self._send(500, b"?", kind="text/plain")

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a client that hangs up early (the fetcher's size cap) is expected, not news

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    state.cache = tmp_path / "cache" / "downloads"  # NST_TF_CACHE is the root of nst-tf's one cache folder
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()


def cache_files(state) -> list[str]:
    return sorted(p.name for p in state.cache.iterdir()) if state.cache.exists() else []


def test_an_image_is_downloaded_once_into_a_private_cache(server):
    url = f"{server.url}/cat.png?v=1"
    first = fetch.fetch(url, progress=False)
    assert first.read_bytes() == PNG and first.parent == server.cache
    assert (os.stat(server.cache).st_mode & 0o077) == 0 and (os.stat(first).st_mode & 0o077) == 0
    assert fetch.fetch(url, progress=False) == first and server.hits["/cat.png"] == 1
    image = load_image(url, max_size=None)
    assert image.shape == (40, 50, 3) and np.allclose(image, 128 / 255)
    assert fetch.fetch(f"{server.url}/cat.png?v=2", progress=False) != first  # one file per URL


def test_a_server_that_never_answers_times_out(server):
    url = f"{server.url}/silent"
    started = time.monotonic()
    with pytest.raises(fetch.FetchError, match="timed out") as info:
        fetch.fetch(url, connect_timeout=0.5, progress=False)
    assert time.monotonic() - started < 10
    assert url in str(info.value) and "\n" not in str(info.value)
    assert cache_files(server) == []


def test_a_stall_in_the_middle_times_out_too(server):
    with pytest.raises(fetch.FetchError, match="timed out"):
        fetch.fetch(f"{server.url}/stalls.png", read_timeout=0.5, progress=False)
    assert cache_files(server) == []


@pytest.mark.parametrize("path", ["/huge.png", "/endless.png"])
def test_oversized_downloads_are_refused_and_not_kept(server, path):
    with pytest.raises(fetch.FetchError, match="limit") as info:
        fetch.fetch(server.url + path, max_bytes=1024 * 1024, progress=False)
    assert server.url + path in str(info.value)
    assert cache_files(server) == []


def test_the_size_limit_can_be_set_in_the_environment(server, monkeypatch):
    monkeypatch.setenv("NST_TF_MAX_DOWNLOAD_MB", "0.5")
    with pytest.raises(fetch.FetchError, match="0.5 MB limit"):
        fetch.fetch(f"{server.url}/endless.png", progress=False)


def test_an_html_page_with_status_200_is_not_cached(server):
    url = f"{server.url}/page.png"
    with pytest.raises(fetch.FetchError, match="HTML page") as info:
        load_image(url)
    assert url in str(info.value)
    assert cache_files(server) == []
    server.fixed = True  # the server is fixed: the next run asks again and works
    assert load_image(url, max_size=None).shape == (40, 50, 3)
    assert server.hits["/page.png"] == 2


def test_redirects_to_other_schemes_are_refused(server):
    url = f"{server.url}/to-ftp.png"
    with pytest.raises(fetch.FetchError, match="not an http") as info:
        fetch.fetch(url, progress=False)
    assert str(info.value).startswith(f"could not fetch {url}")
    assert fetch.fetch(f"{server.url}/moved.png", progress=False).read_bytes() == PNG  # http redirects work


def test_http_errors_and_bad_schemes_name_the_url(server):
    url = f"{server.url}/missing.png"
    with pytest.raises(fetch.FetchError, match=f"could not fetch {url}: HTTP 404"):
        fetch.fetch(url, progress=False)
    with pytest.raises(fetch.FetchError, match="only http"):
        fetch.fetch("ftp://127.0.0.1/cat.png")


def test_progress_goes_to_stderr_only(server, capsys):
    fetch.fetch(f"{server.url}/cat.png", progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    # the first chunk is always reported (the line's clock starts at 0), and the line is ended
    assert captured.err.startswith(f"\rdownloading {server.url}/cat.png: ") and captured.err.endswith("\n")
    fetch.fetch(f"{server.url}/cat.png", progress=False, refresh=True)
    assert capsys.readouterr().err == ""


def _start_download(server, url) -> subprocess.Popen:
    code = "import sys; from nst_tf.image import download as fetch; fetch.fetch(sys.argv[1], read_timeout=60, progress=False)"
    env = dict(os.environ, PYTHONPATH=str(ROOT), NST_TF_CACHE=str(server.cache.parent))
    process = subprocess.Popen([sys.executable, "-c", code, url], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=ctrl_c_reaches_it)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until half the picture has arrived
        parts = [p for p in server.cache.glob(".download-*")] if server.cache.exists() else []
        if parts and parts[0].stat().st_size > 0:
            return process
        time.sleep(0.05)
    process.kill()
    pytest.fail("the download did not start")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_mid_download_leaves_nothing_behind(server, how):
    url = f"{server.url}/stalls.png"
    process = _start_download(server, url)
    process.send_signal(how)
    process.wait(timeout=30)
    assert process.returncode != 0
    assert cache_files(server) == []
    server.fixed = True
    assert fetch.fetch(url, progress=False).read_bytes() == server.big_png


def test_killed_mid_download_then_retried(server):
    url = f"{server.url}/stalls.png"
    process = _start_download(server, url)
    process.kill()  # SIGKILL: nothing can clean up
    process.wait(timeout=30)
    assert not fetch.cached_path(url).exists()  # no half file under the final name
    server.fixed = True
    assert fetch.fetch(url, progress=False).read_bytes() == server.big_png
    assert cache_files(server) == [fetch.cached_path(url).name]  # the dead process's leftover is gone


def test_fetch_does_not_import_tensorflow():
    code = "import sys, nst_tf.image.download, nst_tf.image.samples; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=120).returncode == 0


# ----------------------------------------------------------------------------- free space in the cache (issue 28)


def _little_room(monkeypatch, below: Path, free: int) -> None:
    """``shutil.disk_usage`` says ``free`` bytes for folders under ``below``, the truth elsewhere."""
    import shutil
    from collections import namedtuple

    real = shutil.disk_usage
    usage = namedtuple("usage", "total used free")

    def disk_usage(path):
        if Path(path).resolve().is_relative_to(below.resolve()):
            return usage(10**9, 10**9 - free, free)
        return real(path)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


def test_a_download_larger_than_the_free_space_is_refused_before_its_first_byte(server, monkeypatch, tmp_path):
    _little_room(monkeypatch, tmp_path / "cache", free=len(PNG) // 2)  # the cache folder exists only once fetch runs
    with pytest.raises(fetch.FetchError) as caught:
        fetch.fetch(server.url + "/cat.png")
    message = str(caught.value)
    assert "\n" not in message and "not enough free space in " + str(server.cache) in message, message
    assert "NST_TF_CACHE" in message and f"{(len(PNG) + (1 << 20)) / 1e6:.1f} MB needed" in message, message
    assert list(server.cache.iterdir()) == []  # no partial file
    assert server.hits["/cat.png"] == 1


def test_enough_free_space_downloads_as_before(server, monkeypatch, tmp_path):
    _little_room(monkeypatch, tmp_path / "cache", free=len(PNG) + (1 << 20))
    assert fetch.fetch(server.url + "/cat.png").read_bytes() == PNG


def test_a_disk_that_fills_up_during_a_download_leaves_no_half_file(server, monkeypatch):
    """No Content-Length (the size is unknown): the write that finds the disk full ends the download."""
    import errno

    real_fdopen = os.fdopen

    class FillsUp:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 200_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(fetch.os, "fdopen", lambda fd, *a, **k: FillsUp(real_fdopen(fd, *a, **k)))
    with pytest.raises(fetch.FetchError) as caught:
        fetch.fetch(server.url + "/endless.png", max_bytes=10**9)
    message = str(caught.value)
    assert "\n" not in message and f"no space left in {server.cache}" in message and "NST_TF_CACHE" in message
    assert list(server.cache.iterdir()) == []


def test_the_command_line_says_it_in_one_line_and_exits_2(server, monkeypatch, tmp_path, capsys):
    from nst_tf.cli import commands as cli

    style = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(style)
    _little_room(monkeypatch, tmp_path / "cache", free=1000)
    status = cli.main(["stylize", server.url + "/cat.png", str(style), "-o", str(tmp_path / "out.png"),
                       "--weights", "offline", "--no-progress"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2 and len(err) == 1 and "not enough free space" in err[0] and "NST_TF_CACHE" in err[0], err
    assert not (tmp_path / "out.png").exists() and list(server.cache.iterdir()) == []


def test_room_is_measured_where_the_cache_will_be_made(tmp_path, monkeypatch):
    from nst_tf._runtime.env import CACHE_MARGIN_BYTES, cache_space_problem

    _little_room(monkeypatch, tmp_path, free=5_000_000)
    not_made = tmp_path / "a" / "b" / "downloads"
    assert cache_space_problem(not_made, 5_000_000 - CACHE_MARGIN_BYTES) is None
    problem = cache_space_problem(not_made, 5_000_000 - CACHE_MARGIN_BYTES + 1, variable="KERAS_HOME")
    assert problem is not None and str(not_made) in problem and "KERAS_HOME sets the folder" in problem
    assert not (tmp_path / "a").exists()


def test_imagenet_weights_without_room_are_refused_and_auto_takes_the_offline_ones(tmp_path, monkeypatch):
    from nst_tf.vgg import weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("NST_TF_WEIGHTS", raising=False)
    monkeypatch.setattr(weights, "_network_reachable", lambda *a, **k: True)
    _little_room(monkeypatch, tmp_path, free=70_000_000)  # VGG16's 59 MB fit, VGG19's 80 MB do not
    assert weights.imagenet_space_problem("vgg16") is None
    problem = weights.imagenet_space_problem("vgg19")
    assert problem is not None and str(tmp_path / "keras" / "models") in problem and "KERAS_HOME" in problem
    assert weights.resolve_weights("auto", "vgg16") == ("imagenet", "vgg16")
    assert weights.resolve_weights("auto", "vgg19") == ("offline", "vgg16")
    (tmp_path / "keras" / "models").mkdir(parents=True)
    (tmp_path / "keras" / "models" / weights._IMAGENET_FILES["vgg19"]).write_bytes(b"cached")
    assert weights.imagenet_space_problem("vgg19") is None  # cached: nothing to download


def test_load_vgg_refuses_imagenet_weights_it_has_no_room_for_before_downloading(tmp_path, monkeypatch):
    from nst_tf.vgg import WeightsError, load_vgg
    from nst_tf.vgg import weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(weights, "_network_reachable", lambda *a, **k: pytest.fail("no network here"))
    _little_room(monkeypatch, tmp_path, free=1_000_000)
    with pytest.raises(WeightsError, match="not enough free space") as caught:
        load_vgg("imagenet", "vgg19", normalize=False)
    assert "\n" not in str(caught.value) and "KERAS_HOME" in str(caught.value)
    assert not (tmp_path / "keras" / "models").exists() or list((tmp_path / "keras" / "models").iterdir()) == []
