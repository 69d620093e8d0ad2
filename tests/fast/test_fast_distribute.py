"""Training the fast network beyond one device: the data stream, the chief, tf.distribute (lesson 06).

The first tests run in this process and take seconds. The two marked ``slow`` start
TensorFlow in subprocesses: ``MirroredStrategy`` on two logical CPU devices, and a real
two-worker ``MultiWorkerMirroredStrategy`` cluster on 127.0.0.1 that is killed and
resumed. Both must give the weights of a single-process run with the same global batch.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.image import load_image
from nst_tf.cli import commands as cli
from nst_tf.image import samples
from nst_tf import fast
from nst_tf.fast import photos as fast_data
from nst_tf.fast import distribute as fast_distribute
from nst_tf.image.save import save_image

ROOT = Path(__file__).resolve().parents[2]
STYLE = "style/swirls"
PHOTOS = ("content/chelsea", "content/coffee", "content/astronaut")


def _photos(folder: Path, *, broken: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        save_image(load_image(name, 64), folder / f"{name.split('/')[-1]}.png")
    if broken:
        (folder / "broken.jpg").write_bytes(b"not a picture")
    return folder


def _env() -> dict[str, str]:
    env = dict(os.environ, NST_TF_WEIGHTS="offline", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT),
               CUDA_VISIBLE_DEVICES="-1")
    env.pop("TF_CONFIG", None)
    return env


# --------------------------------------------------------------------------- the stream of examples


def test_every_photo_once_per_epoch_in_a_new_order_and_resume_mid_stream():
    stream = [(int(j), int(index)) for j, index in fast_data._examples(5, seed=3, start=0).take(20)]
    assert [j for j, _ in stream] == list(range(20))
    epochs = [[index for _, index in stream[k : k + 5]] for k in range(0, 20, 5)]
    assert all(sorted(epoch) == list(range(5)) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) > 1  # reshuffled every epoch
    later = [(int(j), int(index)) for j, index in fast_data._examples(5, seed=3, start=7).take(6)]
    assert later == stream[7:13]
    other_seed = [int(index) for _, index in fast_data._examples(5, seed=4, start=0).take(20)]
    assert other_seed != [index for _, index in stream]


@pytest.mark.parametrize("streaming", [False, True], ids=["in memory", "streamed"])
def test_shards_taken_in_turn_are_the_unsharded_batches(tmp_path, monkeypatch, streaming):
    if streaming:
        monkeypatch.setattr(fast_data, "IN_MEMORY_LIMIT", 1)
    photos = _photos(tmp_path / "photos")
    whole = iter(fast_data.training_images(photos, size=32, batch_size=4, seed=5))
    shards = [iter(fast_data.training_images(photos, size=32, batch_size=2, seed=5, num_shards=2, shard=p))
              for p in range(2)]
    batches = [next(whole).numpy() for _ in range(3)]  # 12 crops: four passes over the 3 photos
    for batch in batches:
        np.testing.assert_array_equal(batch[0::2], next(shards[0]).numpy())
        np.testing.assert_array_equal(batch[1::2], next(shards[1]).numpy())
    assert not np.array_equal(batches[0], batches[1])
    resumed = next(iter(fast_data.training_images(photos, size=32, batch_size=4, seed=5, start=8)))
    np.testing.assert_array_equal(resumed.numpy(), batches[2])


def test_photos_from_a_tf_io_gfile_location_that_is_no_local_path():
    root = "ram://nst-tf-test/photos"
    tf.io.gfile.makedirs(f"{root}/sub")
    for name in PHOTOS[:2]:
        local = samples.path(name)
        with tf.io.gfile.GFile(f"{root}/sub/{local.name}", "wb") as handle:
            handle.write(local.read_bytes())
    with tf.io.gfile.GFile(f"{root}/notes.txt", "wb") as handle:
        handle.write(b"not a picture")
    files = fast_data.image_files(root)
    assert files == sorted(f"{root}/sub/{samples.path(name).name}" for name in PHOTOS[:2])
    batch = next(iter(fast_data.training_images(root, size=24, batch_size=3)))
    assert batch.shape == (3, 24, 24, 3)
    with pytest.raises(ValueError, match="not a folder"):
        fast_data.image_files("ram://nst-tf-test/missing")


def test_unreadable_pictures_are_collected_with_their_reason_and_reported_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fast_data, "IN_MEMORY_LIMIT", 1)  # streamed: found while training goes on
    photos = _photos(tmp_path / "photos", broken=True)
    save_image(np.zeros((8, 8, 3)), photos / "tiny.png")
    skipped = fast_data.SkippedPictures()
    batches = iter(fast_data.training_images(photos, size=32, batch_size=5, skipped=skipped))
    for _ in range(3):
        next(batches)
    assert capsys.readouterr().err == ""  # nothing printed while it runs
    assert sorted(Path(name).name for name in skipped.reasons) == ["broken.jpg", "tiny.png"]
    assert "32 px" in skipped.reasons[os.fspath(photos / "tiny.png")]
    skipped.report()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nst-tf: warning: skipped 2 unreadable training pictures: "), err
    assert "broken.jpg" in err[0] and "tiny.png" in err[0]


# --------------------------------------------------------------------------- strategies and the chief


def _fake_strategy(kind, index, cluster):
    spec = tf.train.ClusterSpec(cluster)
    resolver = SimpleNamespace(task_type=kind, task_id=index, cluster_spec=lambda: spec)
    return SimpleNamespace(cluster_resolver=resolver, num_replicas_in_sync=sum(len(v) for v in cluster.values()))


def test_the_chief_is_the_chief_task_else_worker_0():
    workers = {"worker": ["a:1", "b:1"]}
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert fast_distribute.is_chief(_fake_strategy("worker", 0, workers))
    assert not fast_distribute.is_chief(_fake_strategy("worker", 1, workers))
    assert fast_distribute.is_chief(_fake_strategy("chief", 0, with_chief))
    assert not fast_distribute.is_chief(_fake_strategy("worker", 0, with_chief))
    assert fast_distribute.is_chief(tf.distribute.get_strategy())  # one process
    line = fast_distribute.describe(_fake_strategy("worker", 1, workers), 8)
    assert line == ("distribute: SimpleNamespace, 2 replicas on 2 workers, global batch 8 (4 per replica); "
                    "this is worker 1")
    assert fast_distribute.describe(tf.distribute.get_strategy(), 4) == (
        "distribute: default strategy (one device), 1 replica, global batch 4 (4 per replica)")


def test_tf_config_and_strategy_names(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert fast_distribute.cluster_from_env() is None
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}))
    assert fast_distribute.cluster_from_env() is None  # one task is no cluster
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    assert fast_distribute.cluster_from_env() == {"worker": ["a:1", "b:2"]}
    monkeypatch.setenv("TF_CONFIG", "{oops")
    with pytest.raises(fast_distribute.DistributeError, match="not valid JSON"):
        fast_distribute.cluster_from_env()
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(fast_distribute.DistributeError, match="unknown strategy"):
        fast_distribute.make_strategy("horovod")
    assert fast_distribute.make_strategy("none") is tf.distribute.get_strategy()
    if len(tf.config.list_physical_devices("GPU")) < 2:
        assert fast_distribute.make_strategy("auto") is tf.distribute.get_strategy()


def test_only_the_chief_keeps_checkpoint_files(tmp_path):
    cluster = {"worker": ["a:1", "b:1"]}
    value = tf.Variable(3.0)
    checkpoint = tf.train.Checkpoint(value=value)
    other = fast_distribute.ChiefCheckpoints(checkpoint, tmp_path, _fake_strategy("worker", 1, cluster))
    assert other.save(2) == os.fspath(tmp_path / "ckpt-2")
    assert list(tmp_path.iterdir()) == []  # its temporary copy is gone
    chief = fast_distribute.ChiefCheckpoints(checkpoint, tmp_path, _fake_strategy("worker", 0, cluster))
    assert chief.save(2) == os.fspath(tmp_path / "ckpt-2") and (tmp_path / "ckpt-2.index").exists()
    value.assign(5.0)
    assert other.restore_latest() == os.fspath(tmp_path / "ckpt-2")  # every worker resumes from the chief's
    assert float(value) == 3.0


def test_a_stopped_workers_scratch_folder_is_removed_and_the_chiefs_files_stay(tmp_path):
    """A signal inside a worker's save skips its clean-up; discard_scratch() removes what it left (CI saw a
    .worker-1-tmp after a SIGTERM), and never the chief's checkpoints."""
    cluster = {"worker": ["a:1", "b:1"]}
    checkpoint = tf.train.Checkpoint(value=tf.Variable(3.0))
    chief = fast_distribute.ChiefCheckpoints(checkpoint, tmp_path, _fake_strategy("worker", 0, cluster))
    chief.save(1)
    other = fast_distribute.ChiefCheckpoints(checkpoint, tmp_path, _fake_strategy("worker", 1, cluster))
    other.manager.save(checkpoint_number=2)  # a save the stop interrupted before its rmtree
    scratch = tmp_path / ".worker-1-tmp"
    assert scratch.is_dir() and any(scratch.iterdir())
    other.discard_scratch()
    assert not scratch.exists()
    other.discard_scratch()  # nothing left: no error
    chief.discard_scratch()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]


@pytest.mark.parametrize(
    "arguments, environment, message",
    [
        (["--tpu", "my-tpu", "--distribute", "mirrored"], None, "--tpu my-tpu needs --distribute tpu"),
        (["--distribute", "multi-worker"], "{not json", "TF_CONFIG is not valid JSON"),
        (["--distribute", "horovod"], None, "--distribute"),
        (["--images", "ram://nst-tf-test/nothing-here"], None, "not a folder of images"),
    ],
)
def test_train_fast_refuses_bad_distribute_options_in_one_line(tmp_path, capsys, monkeypatch, arguments,
                                                               environment, message):
    if environment is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", environment)
    status = cli.main(["train-fast", STYLE, "-o", str(tmp_path / "m.keras"), *arguments])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and message in err[0], err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_train_fast_reads_photos_and_writes_checkpoints_through_tf_io_gfile(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    root = "ram://nst-tf-cli"
    tf.io.gfile.makedirs(f"{root}/photos")
    for name in PHOTOS[:2]:
        with tf.io.gfile.GFile(f"{root}/photos/{samples.path(name).name}", "wb") as handle:
            handle.write(samples.path(name).read_bytes())
    with tf.io.gfile.GFile(f"{root}/photos/broken.png", "wb") as handle:
        handle.write(b"junk")
    model = tmp_path / "m.keras"
    status = cli.main(["train-fast", STYLE, "--images", f"{root}/photos", "--checkpoint-dir", f"{root}/ck",
                       "--checkpoint-every", "1", "-o", str(model), "--steps", "2", "--size", "32",
                       "--batch-size", "2", "--weights", "offline", "--no-progress", "--cache"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "distribute: default strategy (one device), 1 replica, global batch 2 (2 per replica)" in out
    assert tf.train.latest_checkpoint(f"{root}/ck") == f"{root}/ck/ckpt-2"
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "skipped 1 unreadable training picture" in warnings[0] and "broken.png" in warnings[0]
    assert fast.load_model(model).output_shape == (None, None, None, 3)


# --------------------------------------------------------------------------- MirroredStrategy, two CPU devices

_MIRRORED = r"""
import sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from nst_tf import fast

photos, checkpoints, out = sys.argv[1:4]
options = dict(images=photos, batch_size=4, size=32, weights="offline", style_size=64, progress=False,
               preview_every=0, filters=8, residual_blocks=1, seed=7)
initial = fast.transform_net(8, 1, seed=7).get_weights()
one = fast.train("style/swirls", steps=4, **options)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
first = fast.train("style/swirls", steps=2, strategy=strategy, checkpoint_dir=checkpoints, checkpoint_every=1,
                   **options)
resumed = fast.train("style/swirls", steps=4, strategy=strategy, checkpoint_dir=checkpoints, **options)
arrays = {"replicas": np.array(strategy.num_replicas_in_sync), "first_steps": np.array(first.step),
          "resumed_history": np.array(resumed.history["step"])}
for name, weights in (("initial", initial), ("one", one.model.get_weights()), ("two", resumed.model.get_weights())):
    arrays.update({f"{name}_{i}": w for i, w in enumerate(weights)})
np.savez(out, **arrays)
"""

#: The shift (beta) of the second instance norm of every residual block changes nothing: the
#: constant it adds reaches the next instance normalisation (up1's) through linear layers only,
#: and that subtracts it again (checked below). Its gradient is zero but for rounding, which Adam
#: blows up to steps of +-learning_rate in random directions, so weight comparisons leave it out.
NO_EFFECT = re.compile(r"res\d+_b_norm/beta")


def test_the_residual_blocks_last_shift_has_no_effect_on_the_output():
    model = fast.transform_net(filters=8, residual_blocks=2, seed=1)
    images = tf.random.stateless_uniform((2, 36, 44, 3), seed=(3, 4))
    before = model(images).numpy()
    names = [w.path for w in model.weights if NO_EFFECT.fullmatch(w.path)]
    assert names == ["res1_b_norm/beta", "res2_b_norm/beta"]
    for weight in model.weights:
        if weight.path in names:
            weight.assign(weight + 0.5)
    np.testing.assert_allclose(model(images).numpy(), before, atol=2e-5)
    model.get_layer("res2_b_norm").gamma.assign_add(tf.fill([32], 0.5))  # while its scale does matter
    assert np.abs(model(images).numpy() - before).max() > 1e-2


def _weights(arrays, name):
    return [arrays[key] for key in sorted((k for k in arrays if k.startswith(f"{name}_")),
                                          key=lambda k: int(k.rsplit("_", 1)[1]))]


def _assert_same_training(names, reference, candidate, initial, *, rtol=3e-2):
    """Weight for weight (but those without effect), the two trainings moved the same way.

    For each weight tensor, ``|candidate - reference| / |reference - initial|`` (L2 norms)
    must stay under ``rtol``: rounding differs between one device and several (sums in
    another order), and Adam, which divides each gradient by its own running size, turns
    the rounding noise of gradients near zero into whole steps (measured: 1e-3 after 4 steps
    of the slim network on two CPU devices, 8e-3 after 3 steps of the full one on two
    workers). Other crops, or another step count, differ by the order of the movement itself.
    """
    kept = [i for i, name in enumerate(names) if not NO_EFFECT.fullmatch(name)]
    assert len(names) - len(kept) >= 1 and len(kept) > 10
    relative = {}
    for i in kept:
        moved = float(np.linalg.norm(reference[i] - initial[i]))
        assert moved > 0, names[i]
        relative[names[i]] = float(np.linalg.norm(candidate[i] - reference[i])) / moved
    worst = sorted(relative.items(), key=lambda item: -item[1])[:3]
    print("largest relative differences:", worst)
    assert worst[0][1] < rtol, worst


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_resumes_and_matches_one_device(tmp_path):
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "weights.npz"
    completed = subprocess.run(
        [sys.executable, "-c", _MIRRORED, str(photos), str(tmp_path / "ck"), str(out)],
        capture_output=True, text=True, env=_env(), timeout=900, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    arrays = dict(np.load(out))
    assert int(arrays["replicas"]) == 2 and int(arrays["first_steps"]) == 2
    assert list(arrays["resumed_history"]) == [3, 4]  # the second run went on from the checkpoint
    names = [w.path for w in fast.transform_net(8, 1, seed=7).weights]
    _assert_same_training(names, _weights(arrays, "one"), _weights(arrays, "two"), _weights(arrays, "initial"))


# --------------------------------------------------------------------------- a two-worker cluster on localhost


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


#: A cluster that has not formed by then ends with the watchdog's one line (exit 2), well before the tests stop
#: waiting (the default is 600 s, as long as the longest wait below).
CLUSTER_TIMEOUT_S = 240
#: What a worker says when it cannot take its port.
PORT_TAKEN = "cannot start this worker's server on"


def _start_cluster(arguments: list[str], cwd: Path) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    processes = []
    for index in range(2):
        env = dict(_env(), TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                   NST_TF_CLUSTER_TIMEOUT_S=str(CLUSTER_TIMEOUT_S))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "nst_tf", "train-fast", *arguments, "--distribute", "auto"],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    return processes


def _finish(processes: list[subprocess.Popen], timeout: float) -> list[tuple[int, str, str]]:
    """Each worker's ``(status, stdout, stderr)``; a worker still running ``timeout`` s from now is killed, and
    the failure shows what every worker wrote."""
    deadline = time.monotonic() + timeout
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
            results.append((process.returncode, out, err))
    except subprocess.TimeoutExpired:
        written = []
        for index, process in enumerate(processes):
            if process.poll() is None:
                process.kill()
            out, err = process.communicate()
            written.append(f"worker {index} (status {process.returncode}): {out[-1000:]!r} {err[-1500:]!r}")
        pytest.fail(f"the cluster ran past {timeout:g} s:\n" + "\n".join(written), pytrace=False)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def _run_cluster(arguments: list[str], cwd: Path, timeout: float) -> list[tuple[int, str, str]]:
    """A cluster run to its end; started once more on new ports if a worker could not take its port.

    The ports come from binding port 0 and letting go, so another process (the suite's Jupyter kernels and
    browser, beside this test) can take one before the worker binds it. That worker ends at once (exit 2, its
    one line: test_a_worker_whose_port_is_taken_ends_at_once_with_one_line) and the other waits for it until
    the watchdog's limit. Any other failure, and a second one, fails the test.
    """
    results = _finish(_start_cluster(arguments, cwd), timeout)
    if any(status == 2 and PORT_TAKEN in err for status, _, err in results):
        print("a worker could not take its port; once more on new ports:", [err[-300:] for _, _, err in results])
        results = _finish(_start_cluster(arguments, cwd), timeout)
    return results


def _wait_for_a_checkpoint(processes: list[subprocess.Popen], checkpoints: Path, limit_s: float = 600) -> None:
    """Until the chief has written a checkpoint; fails if a worker ends first or none comes within ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while tf.train.latest_checkpoint(str(checkpoints)) is None:
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        assert time.monotonic() < deadline, f"no checkpoint within {limit_s:g} s"
        time.sleep(0.05)


def _training_cluster(arguments: list[str], cwd: Path, checkpoints: Path) -> list[subprocess.Popen]:
    """A cluster that trains on, once its chief has written a checkpoint; started once more on new ports if a
    worker could not take its port (see :func:`_run_cluster`): that worker ends at once, before any checkpoint."""
    processes = _start_cluster(arguments, cwd)
    while tf.train.latest_checkpoint(str(checkpoints)) is None:
        ended = [p for p in processes if p.poll() is not None]
        if ended:
            _, err = ended[0].communicate()
            assert ended[0].returncode == 2 and PORT_TAKEN in err, (ended[0].returncode, err)
            print("a worker could not take its port; once more on new ports:", err[-300:])
            for process in processes:  # the other one would wait for it
                if process.poll() is None:
                    process.kill()
                process.communicate()
            processes = _start_cluster(arguments, cwd)
            break
        time.sleep(0.05)
    _wait_for_a_checkpoint(processes, checkpoints)
    return processes


@pytest.mark.slow  # a process that imports TensorFlow
def test_a_worker_whose_port_is_taken_ends_at_once_with_one_line(tmp_path):
    """A port held by another program: the worker says which address it could not take, exit 2, before
    waiting for anyone (TensorFlow alone says "UnknownError: Could not start gRPC server")."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        address = f"127.0.0.1:{held.getsockname()[1]}"
        cluster = {"worker": [f"127.0.0.1:{_free_ports(1)[0]}", address]}
        env = dict(_env(), TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-m", "nst_tf", "train-fast", STYLE, "--images", str(_photos(tmp_path / "photos")),
             "--size", "32", "--weights", "offline", "--steps", "2", "-o", str(tmp_path / "never.keras")],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert completed.stderr.splitlines() == [
        f"nst-tf: error: {PORT_TAKEN} {address} (TF_CONFIG's worker 1): is that port taken by another program, "
        "or the address not this machine's?"], completed.stderr[-2000:]
    assert time.monotonic() - started < 120 and not (tmp_path / "never.keras").exists()


@pytest.mark.slow
def test_two_worker_cluster_is_killed_resumes_and_matches_one_process(tmp_path):
    photos = _photos(tmp_path / "photos", broken=True)
    checkpoints = tmp_path / "ck"
    base = [STYLE, "--images", str(photos), "--size", "32", "--weights", "offline", "--no-progress", "--seed", "3"]
    common = [*base, "--batch-size", "1", "--checkpoint-dir", str(checkpoints), "--checkpoint-every", "1"]

    # 1. Train "forever"; kill both workers once the chief has written a checkpoint.
    processes = _training_cluster([*common, "--steps", "100000", "-o", str(tmp_path / "never.keras")], tmp_path,
                                  checkpoints)
    try:
        for process in processes:
            process.send_signal(signal.SIGKILL)
    finally:
        _finish(processes, timeout=60)
    done = int(tf.train.latest_checkpoint(str(checkpoints)).rsplit("-", 1)[1])
    assert done >= 1 and not (tmp_path / "never.keras").exists()
    steps = done + 1  # as few steps as can show a resumed run: Adam makes rounding differences grow

    # 2. Restart the cluster: both workers resume from the chief's checkpoint; only the chief writes the model.
    model = tmp_path / "cluster.keras"
    (chief_status, chief_out, chief_err), (other_status, other_out, other_err) = _run_cluster(
        [*common, "--steps", str(steps), "-o", str(model)], tmp_path, timeout=600)
    assert chief_status == 0 and other_status == 0, (chief_err[-2000:], other_err[-2000:])
    for out in (chief_out, other_out):
        assert "distribute: MultiWorkerMirroredStrategy, 2 replicas on 2 workers, global batch 2 (1 per replica)" in out, out
        assert f"resuming from {checkpoints / f'ckpt-{done}'}" in out, out
    assert "the chief" in chief_out and f"wrote {model} ({steps} steps" in chief_out
    assert "the chief writes" in other_out and "wrote" not in other_out
    for err in (chief_err, other_err):  # the broken file: one line per worker, at the end
        assert err.count("skipped 1 unreadable training picture") == 1, err
    assert sorted(p.name for p in checkpoints.iterdir() if p.name.startswith(".")) == []  # no worker copies left
    assert tf.train.latest_checkpoint(str(checkpoints)) == os.fspath(checkpoints / f"ckpt-{steps}")
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["cluster.keras"]  # written once, no temporaries

    # 3. One process, the same global batch (2) and seed, the same number of steps, no interruption.
    single = tmp_path / "single.keras"
    completed = subprocess.run(
        [sys.executable, "-m", "nst_tf", "train-fast", *base, "--batch-size", "2", "--steps", str(steps),
         "-o", str(single),
         "--distribute", "none"], env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    network = fast.transform_net(seed=3)
    names, initial = [w.path for w in network.weights], network.get_weights()
    alone, together = fast.load_model(single), fast.load_model(model)
    assert [w.path for w in together.weights] == names
    _assert_same_training(names, alone.get_weights(), together.get_weights(), initial)
    photo = load_image(PHOTOS[0], 64)  # the outputs too, measured the same way
    before, after, other = (fast.stylize_fast(m, photo) for m in (network, alone, together))
    ratio = float(np.linalg.norm(other - after) / np.linalg.norm(after - before))
    print(f"outputs: relative difference {ratio:.2e}, largest pixel difference {np.abs(other - after).max():.2e}")
    assert ratio < 3e-2


@pytest.mark.slow
def test_sigterm_to_a_two_worker_cluster_keeps_its_checkpoint_and_ends_cleanly(tmp_path):
    """Issue 28: a two-worker run stopped with SIGTERM (as a process manager stops a job) ends within a
    minute, without a traceback; the chief's last checkpoint stays readable and the chief writes the network."""
    photos = _photos(tmp_path / "photos", broken=False)
    checkpoints = tmp_path / "ck"
    model = tmp_path / "stopped.keras"
    arguments = [STYLE, "--images", str(photos), "--size", "32", "--weights", "offline", "--no-progress", "--seed",
                 "3", "--batch-size", "1", "--checkpoint-dir", str(checkpoints), "--checkpoint-every", "1",
                 "--steps", "100000", "-o", str(model)]
    processes = _training_cluster(arguments, tmp_path, checkpoints)
    try:
        seen = int(tf.train.latest_checkpoint(str(checkpoints)).rsplit("-", 1)[1])
        stopped = time.monotonic()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        results = _finish(processes, timeout=120)
    finally:
        _finish(processes, timeout=5)
    elapsed = time.monotonic() - stopped
    (chief_status, chief_out, chief_err), (other_status, _, other_err) = results
    assert elapsed < 60, f"{elapsed:.0f} s to stop"
    for status, err in ((chief_status, chief_err), (other_status, other_err)):
        assert status == 143, (status, err[-2000:])
        assert "Traceback" not in err and "Exception ignored" not in err, err[-2000:]
    latest = tf.train.latest_checkpoint(str(checkpoints))
    assert latest is not None and int(latest.rsplit("-", 1)[1]) >= seen
    reader = tf.train.load_checkpoint(latest)  # readable, every tensor, not damaged by the stop
    dtypes = reader.get_variable_to_dtype_map()
    floats = [name for name, dtype in dtypes.items() if dtype.is_floating]
    assert len(floats) >= len(fast.transform_net(seed=3).weights), sorted(dtypes)
    assert all(np.all(np.isfinite(reader.get_tensor(name))) for name in floats)
    assert "interrupted: wrote the network so far" in chief_out, (chief_out, chief_err[-2000:])
    network = fast.load_model(model)
    assert [w.shape for w in network.weights] == [w.shape for w in fast.transform_net(seed=3).weights]
    assert sorted(p.name for p in checkpoints.iterdir() if p.name.startswith(".")) == []
