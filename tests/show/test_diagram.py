"""The method diagram (lesson 01): what it says, and that drawing it needs no TensorFlow."""

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_diagram_names_every_stage_of_the_method():
    import matplotlib.pyplot as plt

    from nst_tf.show.diagram import method_diagram

    figure = method_diagram()
    texts = " ".join(t.get_text() for ax in figure.axes for t in ax.texts)
    titles = [ax.get_title() for ax in figure.axes if ax.images]
    plt.close(figure)
    for words in ("VGG", "content representation", "style representation", "Gram", "content cost",
                  "style cost", "total cost", "gradient", "block4_conv2"):
        assert words in texts, f"the diagram no longer mentions {words!r}"
    assert len(titles) == 3 and any("generated image" in t for t in titles)


def test_diagram_shows_the_images_it_is_given():
    import matplotlib.pyplot as plt

    from nst_tf.show.diagram import method_diagram

    red = np.zeros((40, 60, 3), np.float32)
    red[..., 0] = 1.0
    figure = method_diagram(generated_image=red)
    shown = [ax.images[0].get_array() for ax in figure.axes if ax.images]
    plt.close(figure)
    assert any(np.array_equal(np.asarray(picture), red) for picture in shown)


def test_diagram_does_not_import_tensorflow():
    code = ("import matplotlib; matplotlib.use('Agg'); import sys\n"
            "from nst_tf.show.diagram import method_diagram; method_diagram()\n"
            "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
