"""nst-tf's private runtime: what every other part leans on, and nothing of the method.

* :mod:`~nst_tf._runtime.errors`: :func:`one_line`, the one error helper;
* :mod:`~nst_tf._runtime.env`: numbers from the environment, the one cache folder (``NST_TF_CACHE``);
* :mod:`~nst_tf._runtime.logs`: the ``nst_tf`` loggers;
* :mod:`~nst_tf._runtime.quiet`: import TensorFlow without its C++ start-up lines;
* :mod:`~nst_tf._runtime.signals`: SIGTERM handled like Ctrl-C;
* :mod:`~nst_tf._runtime.safefile`: write a file so that no one sees half of it;
* :mod:`~nst_tf._runtime.modelcheck`: is a ``.keras`` file one of ours, and safe to load.

Nothing here imports TensorFlow when imported; import the modules themselves.
"""

__all__: list[str] = []
