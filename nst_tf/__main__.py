"""``python -m nst_tf``: the ``nst-tf`` command line."""

import sys

from nst_tf.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
