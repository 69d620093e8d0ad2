"""``python -m nst_tf``: the ``nst-tf`` command line (same as ``python -m nst_tf.cli``)."""

import sys

from nst_tf.cli import main

if __name__ == "__main__":
    sys.exit(main())
