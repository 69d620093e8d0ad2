"""Reading the costs of device-side steps in one transfer (nst_tf.optim.progress.PendingLosses)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from nst_tf.optim.progress import History, PendingLosses


def test_pending_losses_come_back_numbered_up_to_the_last_step_and_only_once():
    pending = PendingLosses()
    assert pending.flush(5) == [] and len(pending) == 0
    steps = [{"total": tf.constant(10.0 * k + 1), "content": tf.constant(float(k)), "style": tf.constant(0.5),
              "tv": tf.constant(-float(k))} for k in range(3)]
    for losses in steps:
        pending.append(losses)
    assert len(pending) == 3
    read = pending.flush(12)
    assert [step for step, _ in read] == [10, 11, 12]
    assert [values["total"] for _, values in read] == [1.0, 11.0, 21.0]
    assert [values["tv"] for _, values in read] == [0.0, -1.0, -2.0]
    assert all(type(value) is float for _, values in read for value in values.values())
    assert len(pending) == 0 and pending.flush(13) == []


def test_flushed_values_fill_a_history_like_direct_values():
    pending, history, direct = PendingLosses(), History(), History()
    rng = np.random.default_rng(0)
    for step in range(1, 5):
        values = {key: float(np.float32(rng.random())) for key in ("total", "content", "style", "tv")}
        direct.append(step, values, 0.0)
        pending.append({key: tf.constant(value) for key, value in values.items()})
    for step, values in pending.flush(4):
        history.append(step, values, 0.0)
    assert history == direct


def test_live_preview_builds_and_updates_its_widgets_with_this_environments_ipywidgets(monkeypatch):
    """The package's own widget code with ipywidgets 8 (the lessons run with Colab's 7 in tests/lessons/test_colab*.py)."""
    import io

    import ipywidgets
    import IPython.display
    from PIL import Image

    from nst_tf.optim import progress

    shown = []
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **kwargs: shown.extend(objects))
    preview = progress.LivePreview(width=96)
    (box,) = shown
    assert isinstance(box, ipywidgets.HBox) and list(box.children) == [preview.image, preview.plot]
    assert isinstance(preview.image, ipywidgets.Image) and isinstance(preview.plot, ipywidgets.Output)

    image = np.zeros((6, 8, 3), np.float32)
    image[:, :4, 0] = 1.0  # left half red, right half black
    history = History()
    history.append(1, {"total": 3.0, "content": 1.0, "style": 2.0, "tv": 0.0}, 0.1)
    history.append(2, {"total": 2.0, "content": 1.0, "style": 1.0, "tv": 0.0}, 0.2)
    shown.clear()
    preview.update(image, history)
    decoded = np.asarray(Image.open(io.BytesIO(preview.image.value)))
    assert decoded.shape == (6, 8, 3)
    assert (decoded[:, :4] == [255, 0, 0]).all() and (decoded[:, 4:] == 0).all()
    assert len(shown) == 1 and type(shown[0]).__name__ == "Figure"  # the loss plot, drawn into the Output


def test_live_preview_outside_a_notebook_does_nothing(monkeypatch):
    from nst_tf.optim import progress

    monkeypatch.setattr(progress, "in_notebook", lambda: False)
    preview = progress.LivePreview()
    preview.update(np.zeros((4, 4, 3), np.float32))
    assert not preview.active and not hasattr(preview, "image")
