"""Benchmark nst_tf's optimisation against the TensorFlow tutorial's loop (CPU or GPU, unchanged).

    python benchmarks/bench_optimize.py                 # 256 and 512 px, ~10 min on a 2-core CPU
    python benchmarks/bench_optimize.py --sizes 256     # the 256 px run of benchmarks/README.md
    python benchmarks/bench_optimize.py --quick         # smoke run: 64 px, a few steps
    python benchmarks/bench_optimize.py --json results.json

What it measures, in one process, on one machine, with one VGG (ImageNet VGG19 when the
weights can be had, else the offline VGG16; ``--weights``) and the same images:

1. Time per Adam step: nst_tf's ``StyleTransfer.make_adam_step`` against a plain loop
   written as in https://www.tensorflow.org/tutorials/generative/style_transfer (its
   layers, loss, weights, Adam settings, ``tf.function`` train_step and ``clip_0_1``;
   its extractor is a ``keras.Model`` over the same VGG base with ``preprocess_input``
   on ``x * 255`` each call). Both are configured with the tutorial's loss. Median of
   several steps after warm-up, each followed by the same tiny host read.
   Also nst_tf's step compiled with XLA (``jit_compile=True``) and a forward pass alone.
   Then the time per evaluation of nst_tf's default L-BFGS (``optimizer="lbfgs"``, in
   TensorFlow, preconditioned for the first half) and of scipy's L-BFGS-B
   (``"lbfgs-scipy"``), each divided by nst_tf's Adam step: runs of ``--lbfgs-evaluations``
   evaluations interleaved with as many Adam steps, median over ``--repeats``. Target <= 1.05.
2. Time to reach the tutorial's loss: the tutorial loop runs ``--tutorial-steps`` steps
   from the content image; then nst_tf's default optimiser (L-BFGS, preconditioned) starts
   from the same image and stops as soon as its cost falls to the tutorial's final cost;
   the image it returns is scored again with the tutorial's own loss function. One-time
   tracing is excluded on both sides. Target: nst_tf needs at most 1/3 of the time. For
   reference, scipy's L-BFGS-B with the same preconditioning (``"lbfgs-scipy"``) and L-BFGS
   on the pixels (``precondition=0``) are timed the same way.
3. Achieved GFLOP/s: the convolution FLOPs of the layers actually run
   (2*H*W*9*Cin*Cout per conv per forward), times 2 per step (forward + the gradient
   with respect to the input; the frozen weights get no gradient, so TensorFlow prunes
   the filter-gradient convolutions), divided by the step time; next to the machine's
   own float32 matmul rate (2048x2048 ``tf.matmul``, median of several).
4. Host time per evaluation: the same three optimisers with VGG replaced by one 3x3
   convolution with 8 filters (a net that costs next to nothing), same image size. What is
   left is the optimiser's own work and the traffic between Python and TensorFlow: on a GPU,
   compare it with the VGG evaluation time of part 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nst_tf._runtime.machine import cpu_model, cpu_threads  # noqa: E402
from nst_tf._runtime.quiet import import_tensorflow  # noqa: E402 - quiet TensorFlow before anything imports it

TUTORIAL_CONTENT_LAYERS = ["block5_conv2"]
TUTORIAL_STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
TUTORIAL_WEIGHTS = {"style_weight": 1e-2, "content_weight": 1e4, "tv_weight": 30.0}
TARGET_RATIO = 1 / 3
#: Default L-BFGS evaluation / Adam step: the optimiser's own work must stay small next to the step.
TARGET_EVALUATION_RATIO = 1.05


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="longest image sides (default: 256 512)")
    parser.add_argument("--weights", default="auto", help="auto | imagenet | offline | PATH (default: auto)")
    parser.add_argument("--content", default="content/chelsea", help="content image (default: content/chelsea)")
    parser.add_argument("--style", default="style/swirls", help="style image (default: style/swirls)")
    parser.add_argument("--steps", type=int, default=10, help="timed Adam steps per variant (default: 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed Adam steps first (default: 3)")
    parser.add_argument("--tutorial-steps", type=int, default=200, help="tutorial loop steps in part 2 (default: 200)")
    parser.add_argument("--max-lbfgs-factor", type=float, default=3.0,
                        help="give L-BFGS at most this many times the tutorial's steps (default: 3)")
    parser.add_argument("--no-xla", dest="xla", action="store_false", help="skip the jit_compile=True column")
    parser.add_argument("--no-reach", dest="reach", action="store_false", help="skip part 2 (time to reach the loss)")
    parser.add_argument("--precondition", type=float, default=None,
                        help="L-BFGS preconditioner decay for part 2 (default: nst_tf's default)")
    parser.add_argument("--no-plain", dest="plain", action="store_false",
                        help="in part 2, skip the reference run of L-BFGS on the pixels (precondition 0)")
    parser.add_argument("--no-scipy", dest="scipy", action="store_false",
                        help="in part 2, skip the reference run of scipy's L-BFGS-B (optimizer='lbfgs-scipy')")
    parser.add_argument("--lbfgs-evaluations", type=int, default=10,
                        help="L-BFGS evaluations (and Adam steps) per timed block in part 1 (default: 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks per optimiser in parts 1 and 4 (default: 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 px, 3 timed steps, 20 tutorial steps")
    parser.add_argument("--json", metavar="PATH", help="also save the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.steps, args.warmup, args.tutorial_steps = [64], 3, 1, 20
        args.lbfgs_evaluations, args.repeats = 4, 1
    return args


# --------------------------------------------------------------------------- the tutorial, as written there


def build_tutorial(tf, keras, base_vgg, content_image, style_image):
    """The tutorial's extractor, loss and train_step over ``base_vgg`` (a plain Keras VGG, no preprocessing)."""
    style_layers, content_layers = TUTORIAL_STYLE_LAYERS, TUTORIAL_CONTENT_LAYERS
    num_style_layers, num_content_layers = len(style_layers), len(content_layers)
    preprocess_input = keras.applications.vgg19.preprocess_input  # caffe mode, identical for VGG16

    def vgg_layers(layer_names):
        vgg = base_vgg
        vgg.trainable = False
        outputs = [vgg.get_layer(name).output for name in layer_names]
        return keras.Model([vgg.input], outputs)

    def gram_matrix(input_tensor):
        result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
        input_shape = tf.shape(input_tensor)
        num_locations = tf.cast(input_shape[1] * input_shape[2], tf.float32)
        return result / num_locations

    class StyleContentModel(keras.models.Model):
        def __init__(self, style_layers, content_layers):
            super().__init__()
            self.vgg = vgg_layers(style_layers + content_layers)
            self.style_layers = style_layers
            self.content_layers = content_layers
            self.num_style_layers = len(style_layers)
            self.vgg.trainable = False

        def call(self, inputs):
            "Expects float input in [0,1]"
            inputs = inputs * 255.0
            preprocessed_input = preprocess_input(inputs)
            outputs = self.vgg(preprocessed_input)
            style_outputs, content_outputs = (outputs[: self.num_style_layers], outputs[self.num_style_layers:])
            style_outputs = [gram_matrix(style_output) for style_output in style_outputs]
            content_dict = {name: value for name, value in zip(self.content_layers, content_outputs)}
            style_dict = {name: value for name, value in zip(self.style_layers, style_outputs)}
            return {"content": content_dict, "style": style_dict}

    extractor = StyleContentModel(style_layers, content_layers)
    style_targets = extractor(tf.constant(style_image[np.newaxis]))["style"]
    content_targets = extractor(tf.constant(content_image[np.newaxis]))["content"]
    image = tf.Variable(content_image[np.newaxis])

    def clip_0_1(image):
        return tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0)

    opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
    style_weight = TUTORIAL_WEIGHTS["style_weight"]
    content_weight = TUTORIAL_WEIGHTS["content_weight"]
    total_variation_weight = TUTORIAL_WEIGHTS["tv_weight"]

    def style_content_loss(outputs):
        style_outputs = outputs["style"]
        content_outputs = outputs["content"]
        style_loss = tf.add_n(
            [tf.reduce_mean((style_outputs[name] - style_targets[name]) ** 2) for name in style_outputs.keys()]
        )
        style_loss *= style_weight / num_style_layers
        content_loss = tf.add_n(
            [tf.reduce_mean((content_outputs[name] - content_targets[name]) ** 2) for name in content_outputs.keys()]
        )
        content_loss *= content_weight / num_content_layers
        loss = style_loss + content_loss
        return loss

    # Not in the tutorial (its first train_step builds the optimiser): build it now so that its
    # initial state can be restored by reset() below (that state includes the learning rate).
    opt.build([image])
    initial_state = [variable.numpy() for variable in opt.variables]

    @tf.function()
    def train_step(image):
        with tf.GradientTape() as tape:
            outputs = extractor(image)
            loss = style_content_loss(outputs)
            loss += total_variation_weight * tf.image.total_variation(image)
        grad = tape.gradient(loss, image)
        opt.apply_gradients([(grad, image)])
        image.assign(clip_0_1(image))

    def total_loss(array) -> float:
        x = tf.constant(np.asarray(array, np.float32).reshape((1,) + content_image.shape))
        value = style_content_loss(extractor(x)) + total_variation_weight * tf.image.total_variation(x)
        return float(tf.reshape(value, []))

    def reset() -> None:
        """Back to the content image with a fresh Adam state (keeps the traced train_step)."""
        image.assign(content_image[np.newaxis])
        for variable, value in zip(opt.variables, initial_state):
            variable.assign(value)

    return {"image": image, "train_step": train_step, "total_loss": total_loss, "reset": reset, "opt": opt}


# --------------------------------------------------------------------------- helpers


def plain_vgg(keras, nst_vgg, net: str):
    """A Keras VGG without nst_tf's preprocessing layer, with ``nst_vgg``'s weights (the same net)."""
    constructor = keras.applications.VGG19 if net == "vgg19" else keras.applications.VGG16
    base = constructor(include_top=False, weights=None, input_shape=(None, None, 3))
    for layer in base.layers:
        if layer.get_weights():
            layer.set_weights(nst_vgg.get_layer(layer.name).get_weights())
    return base


def conv_flops(layers_run: list[str], net_layers, height: int, width: int) -> float:
    """Forward FLOPs (2*MACs) of the 3x3 convolutions up to the deepest of ``layers_run``."""
    deepest = max(net_layers.index(name) for name in layers_run)
    flops, h, w, c_in = 0.0, height, width, 3
    for name in net_layers[: deepest + 1]:
        if "_pool" in name:
            h, w = h // 2, w // 2
            continue
        block = int(name[5])
        c_out = min(64 * 2 ** (block - 1), 512)
        flops += 2.0 * h * w * 9 * c_in * c_out
        c_in = c_out
    return flops


def median_seconds(fn, repeats: int, sync) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(tf, n: int = 2048, repeats: int = 7) -> float:
    a = tf.random.stateless_uniform((n, n), seed=(1, 2))
    b = tf.random.stateless_uniform((n, n), seed=(3, 4))
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul().numpy()  # trace and warm up
    seconds = median_seconds(lambda: matmul().numpy(), repeats, lambda: None)
    return 2.0 * n**3 / seconds / 1e9


def device_description(tf) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU: {cpu_model()}, {cpu_threads()} logical cores"


def per_evaluation(st, optimizers: list[str], block: int, repeats: int, sync) -> dict[str, float]:
    """Median seconds per evaluation (per step for Adam) of each optimiser over interleaved blocks.

    Each block is one ``st.run(block, optimizer)`` from the same start (Adam: ``block`` steps of
    :meth:`make_adam_step`, then one host read), so a disturbance on a shared machine hits all alike.
    """
    adam_step = st.make_adam_step()
    start = st.image.numpy()

    def block_of(optimizer):
        st.image.assign(start)
        began = time.perf_counter()
        if optimizer == "adam":
            for _ in range(block):
                adam_step()
            sync()
        else:
            st.run(block, optimizer, progress=False)
        return (time.perf_counter() - began) / block

    for optimizer in optimizers:  # trace everything once
        block_of(optimizer)
    times = {optimizer: [] for optimizer in optimizers}
    for _ in range(repeats):
        for optimizer in optimizers:
            times[optimizer].append(block_of(optimizer))
    st.image.assign(start)
    return {optimizer: statistics.median(values) for optimizer, values in times.items()}


def one_layer_transfer(keras, content, style):
    """A StyleTransfer whose "VGG" is a single 3x3 convolution: what is left is the optimiser's own cost."""
    from nst_tf.vgg.extractor import FeatureExtractor
    from nst_tf.transfer.style_transfer import StyleTransfer

    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(inputs)
    model = keras.Model(inputs, outputs, name="one_layer")
    extractor = FeatureExtractor(model, ["block1_conv1"], net="one_layer", weights="random")
    return StyleTransfer(content, style, content_layers=["block1_conv1"], style_layers=["block1_conv1"],
                         extractor=extractor)


def at_size(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized so that its longest side is exactly ``size`` (may enlarge)."""
    from nst_tf.image.arrays import resize_image

    height, width = image.shape[:2]
    scale = size / max(height, width)
    return resize_image(image, size=(max(1, round(height * scale)), max(1, round(width * scale))))


# --------------------------------------------------------------------------- one size


def bench_size(tf, keras, args, size: int, content_full, style_full, resolved: str, net: str, matmul_rate: float):
    from nst_tf.vgg import layer_names, load_vgg
    from nst_tf.defaults import DEFAULT_PRECONDITION
    from nst_tf.transfer.style_transfer import StyleTransfer

    content, style = at_size(content_full, size), at_size(style_full, size)
    height, width = content.shape[:2]
    options = dict(
        content_layers=TUTORIAL_CONTENT_LAYERS,
        style_layers=TUTORIAL_STYLE_LAYERS,
        content_normalization="mse",
        style_normalization="mse",
        tv_kind="sum_abs",
        weights=resolved,
        net=net,
        **TUTORIAL_WEIGHTS,
    )
    st = StyleTransfer(content, style, **options)
    tutorial = build_tutorial(tf, keras, plain_vgg(keras, load_vgg(resolved, net), net), content, style)
    row: dict = {"size": size, "height": height, "width": width}

    # --- the two losses agree
    rng = np.random.default_rng(0)
    probe = np.clip(0.6 * content + 0.4 * rng.uniform(0, 1, content.shape), 0, 1).astype(np.float32)
    ours, theirs = st.losses(probe)["total"], tutorial["total_loss"](probe)
    row["loss_check"] = {"nst_tf": ours, "tutorial": theirs, "relative_difference": abs(ours - theirs) / abs(theirs)}

    # --- 1. time per Adam step
    sync_ours = lambda: st.image[0, 0, 0, 0].numpy()  # noqa: E731 - the same tiny host read for both
    sync_tutorial = lambda: tutorial["image"][0, 0, 0, 0].numpy()  # noqa: E731
    step = st.make_adam_step()
    train_step = lambda: tutorial["train_step"](tutorial["image"])  # noqa: E731
    for _ in range(args.warmup):
        step(), train_step()
    sync_ours(), sync_tutorial()
    # Interleave the two so that a disturbance on a shared machine hits both alike.
    ours_t, theirs_t = [], []
    for _ in range(args.steps):
        theirs_t.append(median_seconds(train_step, 1, sync_tutorial))
        ours_t.append(median_seconds(step, 1, sync_ours))
    row["tutorial_step_s"] = statistics.median(theirs_t)
    row["nst_tf_step_s"] = statistics.median(ours_t)

    @tf.function
    def forward(x):  # the features alone, reduced to one number so that reading it syncs cheaply
        features = st.extractor.model(x, training=False)
        return tf.add_n([value[0, 0, 0, 0] for value in features.values()])

    x = tf.constant(content[np.newaxis])
    forward(x).numpy()
    row["forward_s"] = median_seconds(lambda: forward(x).numpy(), max(3, args.steps), lambda: None)

    # --- 1b. time per L-BFGS evaluation against an Adam step (nst_tf, the tutorial's loss)
    optimizers = ["adam", "lbfgs", "lbfgs-scipy"]
    row["per_evaluation_s"] = per_evaluation(st, optimizers, args.lbfgs_evaluations, args.repeats, sync_ours)

    # --- 4. host time per evaluation: VGG replaced by one convolution
    tiny = one_layer_transfer(keras, content, style)
    row["one_layer_per_evaluation_s"] = per_evaluation(
        tiny, optimizers, args.lbfgs_evaluations, args.repeats, lambda: tiny.image[0, 0, 0, 0].numpy()
    )
    del tiny

    if args.xla:
        try:
            xla = StyleTransfer(content, style, jit_compile=True, extractor=st.extractor,
                                **{k: v for k, v in options.items() if k not in ("weights", "net")})
            xla_step = xla.make_adam_step()
            start = time.perf_counter()
            xla_step()
            xla.image[0, 0, 0, 0].numpy()
            row["xla_compile_s"] = time.perf_counter() - start
            for _ in range(max(0, args.warmup - 1)):
                xla_step()
            row["nst_tf_xla_step_s"] = median_seconds(xla_step, args.steps, lambda: xla.image[0, 0, 0, 0].numpy())
        except Exception as error:  # noqa: BLE001 - XLA is optional; report why it failed
            row["nst_tf_xla_step_s"] = None
            row["xla_error"] = " ".join(str(error).split())[:200]

    # --- 3. FLOPs
    flops = 2.0 * conv_flops(TUTORIAL_CONTENT_LAYERS + TUTORIAL_STYLE_LAYERS, layer_names(net), height, width)
    row["gflop_per_step"] = flops / 1e9
    row["nst_tf_gflops"] = flops / row["nst_tf_step_s"] / 1e9
    row["tutorial_gflops"] = flops / row["tutorial_step_s"] / 1e9
    row["matmul_gflops"] = matmul_rate

    # --- 2. time to reach the tutorial's loss
    if args.reach:
        tutorial["reset"]()
        start_loss = tutorial["total_loss"](content)
        sync_tutorial()
        start = time.perf_counter()
        for _ in range(args.tutorial_steps):
            train_step()
        sync_tutorial()
        tutorial_seconds = time.perf_counter() - start
        target = tutorial["total_loss"](tutorial["image"].numpy())

        def reach(precondition: float, optimizer: str = "lbfgs") -> dict:
            st.reset("content")
            reached = {}

            def stop_at_target(step_number, image, losses):
                if losses["total"] <= target:
                    reached.setdefault("step", step_number)
                    return False
                return True

            st.run(2, optimizer, precondition=precondition, progress=False)  # trace once, like train_step above
            st.reset("content")
            max_steps = max(1, int(args.max_lbfgs_factor * args.tutorial_steps))
            start = time.perf_counter()
            result = st.run(max_steps, optimizer, precondition=precondition, callback=stop_at_target,
                            callback_every=1, progress=False)
            seconds = time.perf_counter() - start
            # The returned image, scored by the tutorial's own loss function: the target is met
            # only if the tutorial agrees.
            verified = tutorial["total_loss"](result.image)
            return {
                "optimizer": optimizer,
                "precondition": precondition,
                "evaluations": result.evaluations,
                "seconds": seconds,
                "best_loss": min(result.history["total"]),
                "verified_loss": verified,
                "reached": "step" in reached and verified <= target * (1 + 1e-5),
                "ratio": seconds / tutorial_seconds,
                # Independent of a busy machine: cost evaluations (one forward + backward each).
                "evaluation_ratio": result.evaluations / args.tutorial_steps,
            }

        precondition = DEFAULT_PRECONDITION if args.precondition is None else args.precondition
        runs = [reach(precondition)]
        if args.scipy:
            runs.append(reach(precondition, "lbfgs-scipy"))
        if args.plain and precondition != 0:
            runs.append(reach(0.0))
        row["reach"] = {
            "tutorial_steps": args.tutorial_steps,
            "tutorial_seconds": tutorial_seconds,
            "start_loss": start_loss,
            "tutorial_final_loss": target,
            "runs": runs,
        }
    return row


# --------------------------------------------------------------------------- report


def ms(seconds) -> str:
    return "-" if seconds is None else f"{1000 * seconds:,.1f}"


def print_report(info: dict, rows: list[dict]) -> None:
    print()
    print(f"nst-tf optimisation benchmark - {info['device']}")
    print(f"TensorFlow {info['tensorflow']}, Keras {info['keras']}, {info['weights_description']}")
    print(f"matmul {info['matmul_n']}x{info['matmul_n']} float32: {info['matmul_gflops']:,.1f} GFLOP/s")
    print()
    print("Loss check (nst_tf configured with the tutorial's loss, on the same noisy image):")
    for row in rows:
        check = row["loss_check"]
        verdict = "OK" if check["relative_difference"] <= 1e-4 else "MISMATCH"
        print(f"  {row['size']:>4} px: nst_tf {check['nst_tf']:.6g}  tutorial {check['tutorial']:.6g}  "
              f"relative difference {check['relative_difference']:.1e}  {verdict}")
    print()
    print("1. Time per Adam step (median, ms) and achieved conv throughput")
    header = (f"  {'size':>9} {'tutorial':>9} {'nst_tf':>9} {'tut/nst':>8} {'nst XLA':>9} {'forward':>9} "
              f"{'GFLOP/step':>10} {'nst GFLOP/s':>11} {'matmul GFLOP/s':>14}")
    print(header)
    for row in rows:
        ratio = row["tutorial_step_s"] / row["nst_tf_step_s"]
        print(f"  {row['width']:>4}x{row['height']:<4} {ms(row['tutorial_step_s']):>9} {ms(row['nst_tf_step_s']):>9} "
              f"{ratio:>8.2f} {ms(row.get('nst_tf_xla_step_s')):>9} {ms(row['forward_s']):>9} "
              f"{row['gflop_per_step']:>10.1f} {row['nst_tf_gflops']:>11.1f} {row['matmul_gflops']:>14.1f}")
        if row.get("xla_error"):
            print(f"    XLA failed: {row['xla_error']}")
        elif row.get("xla_compile_s") is not None:
            print(f"    XLA first step (compile) {row['xla_compile_s']:.1f} s")
    print()
    print(f"   Time per evaluation, nst_tf (median ms; ratio to nst_tf's Adam step, target for lbfgs "
          f"<= {TARGET_EVALUATION_RATIO:.2f})")
    print(f"  {'size':>9} {'adam':>9} {'lbfgs':>9} {'ratio':>6}  verdict {'lbfgs-scipy':>12} {'ratio':>6}")
    for row in rows:
        times = row["per_evaluation_s"]
        ratio, scipy_ratio = times["lbfgs"] / times["adam"], times["lbfgs-scipy"] / times["adam"]
        verdict = "PASS" if ratio <= TARGET_EVALUATION_RATIO else "FAIL"
        print(f"  {row['width']:>4}x{row['height']:<4} {ms(times['adam']):>9} {ms(times['lbfgs']):>9} {ratio:>6.2f}  "
              f"{verdict:>7} {ms(times['lbfgs-scipy']):>12} {scipy_ratio:>6.2f}")
    reach_rows = [row for row in rows if "reach" in row]
    if reach_rows:
        print()
        print(f"2. Time to reach the tutorial's loss (nst_tf L-BFGS from the same start; target ratio <= {TARGET_RATIO:.2f})")
        print(f"  {'size':>9} {'tutorial':>18} {'nst_tf L-BFGS':>30} {'nst/tut':>8} {'evals':>6}  verdict")
        for row in reach_rows:
            r = row["reach"]
            tut = f"{r['tutorial_steps']} st {r['tutorial_seconds']:.1f} s"
            for index, run in enumerate(r["runs"]):
                label = f"P {run['precondition']:g}" if run["precondition"] else "pixels"
                if run.get("optimizer", "lbfgs") != "lbfgs":
                    label = f"{run['optimizer']} {label}"
                ours = f"{label}: {run['evaluations']} ev {run['seconds']:.1f} s"
                if not run["reached"]:
                    verdict = (f"NOT REACHED (best {run['best_loss']:.4g}, tutorial's loss of the result "
                               f"{run['verified_loss']:.4g} > {r['tutorial_final_loss']:.4g})")
                elif index:
                    verdict = "(reference)"
                else:
                    verdict = "PASS" if run["ratio"] <= TARGET_RATIO else "FAIL"
                size = f"{row['width']:>4}x{row['height']:<4}" if index == 0 else " " * 9
                print(f"  {size} {tut if index == 0 else '':>18} {ours:>30} {run['ratio']:>8.2f} "
                      f"{run['evaluation_ratio']:>6.2f}  {verdict}")
            first = r["runs"][0]
            print(f"    per step: tutorial {ms(r['tutorial_seconds'] / r['tutorial_steps'])} ms, nst_tf L-BFGS "
                  f"{ms(first['seconds'] / max(1, first['evaluations']))} ms")
            print(f"    loss: start {r['start_loss']:.4g}, tutorial after {r['tutorial_steps']} steps "
                  f"{r['tutorial_final_loss']:.4g}, nst_tf's result {first['verified_loss']:.4g} "
                  f"(scored by the tutorial's loss function)")
            if r["tutorial_final_loss"] >= r["start_loss"]:
                print("    (the tutorial loop ended above its starting loss: too few steps for a meaningful target)")
        print("  evals = L-BFGS evaluations / tutorial steps (does not depend on how busy the machine is);"
              " P d = preconditioned with decay d, pixels = L-BFGS on the pixels only;"
              " lbfgs-scipy = scipy's L-BFGS-B, else nst_tf's default L-BFGS")
    print()
    print("4. Host time per evaluation: VGG replaced by one 3x3 convolution (8 filters), median ms per evaluation")
    print(f"  {'size':>9} {'adam':>9} {'lbfgs':>9} {'lbfgs-scipy':>12}   (compare with part 1's evaluation times)")
    for row in rows:
        times = row["one_layer_per_evaluation_s"]
        print(f"  {row['width']:>4}x{row['height']:<4} {ms(times['adam']):>9} {ms(times['lbfgs']):>9} "
              f"{ms(times['lbfgs-scipy']):>12}")
    print()
    print("GFLOP/step counts the 3x3 convolutions run (forward + gradient to the input); "
          "Gram matrices and the rest are left out.")


def main(argv=None) -> int:
    args = parse_args(argv)
    tf = import_tensorflow(verbose=False)
    import keras

    from nst_tf import __version__ as nst_version
    from nst_tf import load_image as load
    from nst_tf.vgg import load_vgg, resolve_weights

    resolved, net = resolve_weights(args.weights, "vgg19")
    vgg = load_vgg(resolved, net)
    content_full, style_full = load(args.content, max_size=None), load(args.style, max_size=None)
    matmul_rate = matmul_gflops(tf, repeats=3 if args.quick else 7)
    info = {
        "device": device_description(tf),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "nst_tf": nst_version,
        "weights": resolved,
        "net": net,
        "weights_description": getattr(vgg, "nst_description", f"{net} {resolved}"),
        "content": args.content,
        "style": args.style,
        "matmul_n": 2048,
        "matmul_gflops": matmul_rate,
        "timed_steps": args.steps,
        "warmup": args.warmup,
        "quick": args.quick,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    rows = []
    for size in args.sizes:
        print(f"benchmarking {size} px ...", file=sys.stderr, flush=True)
        rows.append(bench_size(tf, keras, args, size, content_full, style_full, resolved, net, matmul_rate))
    print_report(info, rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "results": rows}, indent=2) + "\n")
        print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
