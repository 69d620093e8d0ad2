"""nst-tf reports through logging (nst_tf/_runtime/logs.py): visible by default, never twice, and the caller decides.

Each case runs in a fresh interpreter, because the default set-up happens once, at import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_with_nothing_configured_info_and_warnings_show_once_on_stderr():
    done = run(
        "import logging\n"
        "from nst_tf._runtime.logs import get_logger\n"
        "log = get_logger('nst_tf.vgg.extractor')\n"
        "log.debug('hidden detail')\n"
        "log.info('using some weights')\n"
        "log.warning('skipping a picture')\n"
        "logging.basicConfig(level=logging.DEBUG, format='ROOT %(message)s')\n"  # an application's own set-up
        "log.info('again')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["nst-tf: using some weights", "nst-tf: warning: skipping a picture",
                                        "nst-tf: again"]


def test_a_caller_can_hide_the_info_lines_or_take_the_records_over():
    quiet = run(
        "import logging\n"
        "logging.getLogger('nst_tf').setLevel(logging.WARNING)\n"  # chosen before nst-tf is imported
        "from nst_tf._runtime.logs import get_logger\n"
        "get_logger('nst_tf.vgg.extractor').info('using some weights')\n"
        "get_logger('nst_tf.fast.photos').warning('skipping a picture')\n"
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.splitlines() == ["nst-tf: warning: skipping a picture"]
    taken = run(
        "import logging, sys\n"
        "from nst_tf._runtime import logs\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s | %(message)s', stream=sys.stdout)\n"
        "logs.use_root_logging()\n"
        "logs.get_logger('nst_tf.vgg.extractor').info('using some weights')\n"
    )
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.splitlines() == ["nst_tf.vgg.extractor | using some weights"] and taken.stderr == ""


def test_the_cli_shows_debug_lines_only_with_verbose():
    done = run(
        "from nst_tf._runtime import logs\n"
        "log = logs.get_logger('nst_tf.vgg.normalize')\n"
        "logs.configure_for_cli(verbose=False)\n"
        "log.debug('one')\n"
        "logs.configure_for_cli(verbose=True)\n"
        "log.debug('two')\n"
    )
    assert done.stderr.splitlines() == ["nst-tf: two"]
