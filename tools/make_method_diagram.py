#!/usr/bin/env python
"""Save the picture of the whole method to ``docs/images/method.png`` (README, lessons' docs).

    python tools/make_method_diagram.py

The drawing itself is :func:`nst_tf.show.diagram.method_diagram`, which the lessons call too; the
generated-image panel here is the README's demo result (``docs/images/demo.jpg``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    from nst_tf.show.diagram import method_diagram
    from nst_tf.image import load_image

    demo = ROOT / "docs" / "images" / "demo.jpg"
    generated = load_image(demo, max_size=256) if demo.is_file() else None
    figure = method_diagram(generated_image=generated)
    out = ROOT / "docs" / "images" / "method.png"
    figure.savefig(out, dpi=90)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
