"""The ``nst-tf`` command (``nst_tf.cli:main``).

* :mod:`~nst_tf.cli.common`: what every command shares (options, one-line errors, exit statuses);
* :mod:`~nst_tf.cli.fast`: ``train-fast`` and ``apply`` (lesson 06);
* :mod:`~nst_tf.cli.commands`: ``stylize`` and ``demo``, and :func:`main`.

Nothing here imports TensorFlow until a command needs it.
"""

from __future__ import annotations

from .commands import main

__all__ = ["main"]
