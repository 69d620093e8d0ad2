"""Issue 16: the new bad inputs, through the command line. Each: exit 2, one line, nothing written.

(The library side of each case is in test_validate.py, test_fetch.py, test_model_safety.py and
test_lost_work.py.)
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_tf.cli import commands as cli

FAST = ["--steps", "1", "--weights", "offline", "--no-progress"]


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A local web server: /page.png is HTML, /ftp.png redirects to ftp://, /big.png is 3 MB of noise."""
    monkeypatch.setenv("NST_TF_CACHE", str(tmp_path / "cache"))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            if self.path == "/ftp.png":
                self.send_response(302)
                self.send_header("Location", "ftp://127.0.0.1/x.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"<html><body>hello</body></html>" if self.path == "/page.png" else bytes(3 * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if self.path == "/page.png" else "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a client that hangs up early (the fetcher's size cap) is expected, not news

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    # serve_forever looks for shutdown() every poll_interval (0.5 s by default), which each case's teardown waited out
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def work(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    y, x = np.mgrid[0:48, 0:64]
    Image.fromarray(np.stack([x * 4, y * 5, x + y], axis=2).astype(np.uint8)).save(folder / "content.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / "style.png")
    return folder


def _large_content(folder: Path) -> Path:
    """A 3000x2000 px photo (outside the watched folder): stylize never enlarges, so a big run needs a big photo."""
    path = folder / "large.png"
    y, x = np.mgrid[0:2000, 0:3000]
    Image.fromarray(np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)).save(path)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


CASES = {
    "URL serving an HTML page": (lambda w, s: ["stylize", w / "content.png", f"{s}/page.png", "-o", w / "o.png"],
                                 {}, "HTML page"),
    "URL redirecting to ftp": (lambda w, s: ["stylize", f"{s}/ftp.png", w / "style.png", "-o", w / "o.png"],
                               {}, "not an http(s) URL"),
    "URL over the size limit": (lambda w, s: ["stylize", w / "content.png", f"{s}/big.png", "-o", w / "o.png"],
                                {"NST_TF_MAX_DOWNLOAD_MB": "1"}, "limit"),
    "train-fast with an HTML style": (lambda w, s: ["train-fast", f"{s}/page.png", "-o", w / "m.keras"],
                                      {}, "HTML page"),
    "style scale 1000": (lambda w, s: ["stylize", w / "content.png", w / "style.png", "-o", w / "o.png",
                                       "--style-scale", "1000"], {}, "at most 4"),
    "run too large for memory": (lambda w, s: ["stylize", _large_content(w.parent), w / "style.png", "-o", w / "o.png",
                                               "--size", "3000", "--multiscale", "off"],
                                 {"NST_TF_MEMORY_LIMIT_MB": "6000"}, "use --size"),
    "bad NST_TF_WEIGHTS": (lambda w, s: ["stylize", w / "content.png", w / "style.png", "-o", w / "o.png",
                                         "--weights", "auto"], {"NST_TF_WEIGHTS": "/nowhere/vgg.h5"},
                           "NST_TF_WEIGHTS"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_new_bad_inputs_are_one_line_exit_2_and_write_nothing(case, work, site, capsys, monkeypatch):
    make, environment, words = CASES[case]
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    before = snapshot(work)
    command, *rest = [str(a) for a in make(work, site)]
    status = cli.main([command, *FAST, *rest])  # the case's own options come last and win
    captured = capsys.readouterr()
    assert status == 2, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst-tf: error: ") and words in lines[0], captured.err
    assert "wrote" not in captured.out
    assert snapshot(work) == before
    cache = Path(work.parent / "cache" / "downloads")  # NST_TF_CACHE is the root of the one cache folder
    assert not cache.exists() or [p.name for p in cache.iterdir()] == []
