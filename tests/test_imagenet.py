"""The ImageNet setting: ResNet-10 with batch norm, and a streamed study end to end on mock TFDS data."""
import csv
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import imagenet
from imbalance_jax import config_schema, train
from imbalance_jax.samplers import mechanics
from imbalance_jax import study_setup
from imbalance_jax.data import grain_stream, streaming
from imbalance_jax.models import ResNet10


def test_resnet10_has_nine_convs_and_one_fc():
    variables = ResNet10(num_classes=1000).init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)))
    params = variables["params"]
    convs = [k for k in params if k == "conv1"] + [
        f"{b}/{c}" for b in params if b.startswith("block") for c in params[b] if c.startswith("conv")]
    assert len(convs) == 9 and params["fc"]["kernel"].shape == (512, 1000)
    assert "batch_stats" in variables
    kernel = np.asarray(params["block3"]["conv_b"]["kernel"])  # Kaiming: std sqrt(2 / fan_in)
    assert abs(kernel.std() - np.sqrt(2 / (9 * 256))) < 0.05 * np.sqrt(2 / (9 * 256))


def test_batch_norm_statistics_train_and_freeze_in_two_phase():
    model = ResNet10(num_classes=4)
    hp = train.TrainHParams(batch_size=4, base_lr=0.01, lr_policy="fixed", max_iter=2)
    rng = np.random.default_rng(0)
    data = train.CohortData(jnp.asarray(rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)),
                            jnp.asarray(np.arange(16) % 4, jnp.int32))
    table = mechanics.index_table([np.arange(16)] * 2)
    inputs = train.CohortInputs(jnp.asarray(table.indices), jnp.asarray(table.lengths), jnp.array([1, 2], jnp.uint32),
                            jnp.ones(2), jnp.array([False, True]))
    state = train.init_state(model, np.array([1, 2]), (32, 32, 3))
    before = jax.tree.map(np.asarray, state["params"])
    state, _ = train.make_train_chunk(model, hp)(state, data, inputs, 2)
    stats, old = state["params"]["batch_stats"]["bn1"]["mean"], before["batch_stats"]["bn1"]["mean"]
    assert not np.allclose(stats[0], old[0])  # a training network's running statistics move
    assert np.array_equal(stats[1], old[1])  # a fine-tuned network's frozen layers keep theirs
    assert np.array_equal(state["params"]["params"]["block2"]["conv_a"]["kernel"][1],
                          before["params"]["block2"]["conv_a"]["kernel"][1])


def test_crops_take_the_centre_and_resize_as_pil_does():
    from PIL import Image

    rows, cols = np.meshgrid(np.arange(40), np.arange(60), indexing="ij")
    image = np.stack([rows, cols, rows + cols], -1).astype(np.uint8)  # each pixel holds its own coordinates
    resized = streaming.resize_shorter_side(image, 20)
    expected = np.asarray(Image.fromarray(image).resize((30, 20), Image.BILINEAR))  # 40 x 60 -> 20 x 30
    assert resized.shape == (20, 30, 3) and np.array_equal(resized, expected)
    crop = streaming.center_crop(image, 16)
    assert crop[0, 0, :2].tolist() == [12, 22] and crop[-1, -1, :2].tolist() == [27, 37]  # (40-16)/2, (60-16)/2
    crops = {streaming.random_crop_flip(resized, 16, np.random.default_rng(s)).tobytes() for s in range(10)}
    assert len(crops) > 1


@pytest.fixture
def mock_imagenet():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=120):
        yield


def test_stream_positions_match_the_device_sampler():
    labels = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 1])
    table = mechanics.index_table([np.array([5, 6, 7, 8, 9]), np.array([1, 2, 3])], width=6, labels=labels,
                                 num_classes=2)
    for class_aware in (False, True):  # the permutation walk, and class-aware batches
        inputs = train.CohortInputs(jnp.asarray(table.indices), jnp.asarray(table.lengths),
                                    jnp.array([4, 9], jnp.uint32), jnp.ones(2), jnp.zeros(2, bool),
                                    jnp.array([int(class_aware)] * 2, jnp.int32), jnp.asarray(table.class_offsets),
                                    jnp.asarray(table.class_counts))
        got = streaming.BatchStream(None, inputs, batch_size=4).positions(2, 3)
        for k in range(3):
            assert got[k].tolist() == np.asarray(train.batch_indices(inputs, jnp.int32(2 + k), 4)).tolist()
        if class_aware:
            assert all(np.bincount(labels[got[k, n]], minlength=2).tolist() == [2, 2]
                       for k in range(3) for n in range(2))
    walked = np.asarray(mechanics.batch_positions(jnp.int32(2), 4, jnp.int32(5), jnp.uint32(4)))
    plan_walk = inputs._replace(batch_rules=jnp.zeros(2, jnp.int32))
    assert streaming.BatchStream(None, plan_walk, 4).positions(2, 1)[0, 0].tolist() == table.indices[0][walked].tolist()


def test_grain_workers_give_the_thread_loaders_batches_and_reopen_at_any_step(mock_imagenet):
    data = streaming.load_stream("imagenette", 6, 1, 36, 32)  # mock: 10 classes of random images of random sizes
    table = mechanics.index_table([np.arange(len(data.y_train)), np.arange(20)], labels=data.y_train,
                                 num_classes=data.num_classes)
    inputs = train.CohortInputs(jnp.asarray(table.indices), jnp.asarray(table.lengths), jnp.array([4, 9], jnp.uint32),
                            jnp.ones(2), jnp.zeros(2, bool), jnp.array([0, 1], jnp.int32),  # walked, class-aware
                            jnp.asarray(table.class_offsets), jnp.asarray(table.class_counts))
    threads = streaming.BatchStream(data, inputs, 4, workers=2)
    expected = [threads.chunk(0, 3, 2), threads.chunk(3, 2)]
    threads.close()
    assert not np.array_equal(expected[0][0][0, 0], expected[0][0][0, 1])  # the two networks read other images
    grain = grain_stream.GrainStream(data, inputs, 4, workers=2, end_step=5)
    for (images, labels), (want_images, want_labels) in zip([grain.chunk(0, 3), grain.chunk(3, 2)], expected):
        assert images.shape == (len(labels), 2, 4, 32, 32, 3)
        assert np.array_equal(images, want_images) and np.array_equal(labels, want_labels)
    assert grain._iterator is None  # the last step's chunk stopped the workers
    resumed = grain_stream.GrainStream(data, inputs, 4, workers=0, end_step=5)  # 0: read in this process
    images, labels = resumed.chunk(3, 2)  # a cohort resumed at step 3 reads on from there
    assert np.array_equal(images, expected[1][0]) and np.array_equal(labels, expected[1][1])


def test_an_unknown_stream_loader_is_refused_naming_both():
    config = imagenet.get_config()
    config.stream.loader = "processes"
    with pytest.raises(ValueError, match=r"^config.stream.loader='processes' is out of range; use one of 'grain', "
                                         r"'threads'$"):
        config_schema.validate(config)


def test_a_streamed_folder_with_a_size_is_refused_naming_the_fix(tmp_path):
    config = imagenet.get_config()
    config.dataset = f"folder:{tmp_path}@28"
    with pytest.raises(ValueError, match=r"a streamed folder is resized by stream.resize and stream.crop; drop the "
                                         r"@<size>$"):
        study_setup.load_data(config)


@pytest.mark.slow
def test_your_own_image_folders_stream_through_the_entry_point_on_grain_workers(tmp_path):
    """The ImageNet protocol streamed end to end from folder:<train>,<test>: images of mixed sizes read by
    grain's processes, spawned from the real entry point, which must import cleanly in each of them; a
    curve point reads the test set's centre crops. (test_short_classes streams TFDS data on threads.)"""
    assert imagenet.get_config().stream.loader == "grain"
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 8), ("test", 2)):
        for name in ("cat", "dog", "emu", "fox"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(per_class):
                h, w = rng.integers(36, 60, 2)
                Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
                    tmp_path / split / name / f"{i}.jpg")
    run = [sys.executable, "-m", "launch.study", "--config=configs/imagenet.py", f"--workdir={tmp_path / 'run'}",
           f"--config.dataset=folder:{tmp_path / 'train'},{tmp_path / 'test'}", "--config.train_per_class=8",
           "--config.test_per_class=2", "--config.stream.resize=36", "--config.stream.crop=32",
           "--config.stream.workers=2", "--config.imbalance.step_settings=((0.5, 4, 1),)",
           "--config.cohort_size=3", "--config.train.batch_size=4", "--config.train.iterations=4",
           "--config.steps_per_call=2", "--config.curve_every=4", "--config.eval_batch_size=6", "--config.report=False"]
    out = subprocess.run(run, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr[-3000:]
    with open(tmp_path / "run" / "results.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert {m: int(r["train_size"]) for m, r in rows.items()} == {
        "baseline": 2 * 8 + 2 * 2, "oversampling": 4 * 8, "undersampling": 4 * 2}
    assert all(0 <= float(r["auc"]) <= 1 for r in rows.values())
    with open(tmp_path / "run" / "curves.csv") as f:
        assert {int(r["step"]) for r in csv.DictReader(f)} == {4}  # the curve point at the last step
    with open(tmp_path / "run" / "per_class.csv") as f:  # long form: a row per network, method and class
        per_class = list(csv.DictReader(f))
    assert len(per_class) == 3 * 4 and {(r["class"], r["class_name"]) for r in per_class} == {
        ("0", "cat"), ("1", "dog"), ("2", "emu"), ("3", "fox")}  # the folder names
