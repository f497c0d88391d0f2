"""Image folders (one sub-folder per class): read into frames for
`delta.debug`, prepared into a holder's snapshot, and trained on as
(N, C, H, W) tensors whose federated training equals central training."""

from __future__ import annotations

import json
from pathlib import Path

import learning_tasks as lt
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

import delta
from delta.datasets import DatasetError, prepare
from delta.images import ImageFolderError, images_array, read_image_folder

EXACT = 1e-7


def write(path: Path, pixels: np.ndarray, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode=mode).save(path)


def digit_folder(root: Path, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as 8x8 grey PNGs under root/<digit>/; returns
    the pixels and digits in the order the folder is read (by class, then
    file name)."""
    digits = load_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)[:count]
    target = digits.target[:count]
    for i, (image, digit) in enumerate(zip(pixels, target, strict=True)):
        write(root / str(digit) / f"{i:05d}.png", image)
    order = np.argsort(target, kind="stable")
    return pixels[order], target[order]


def test_a_folder_reads_as_exact_pixels_and_sorted_class_levels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cats = rng.integers(0, 256, (3, 5, 4, 3), dtype=np.uint8)
    dogs = rng.integers(0, 256, (2, 5, 4, 3), dtype=np.uint8)
    for i, image in enumerate(cats):
        write(tmp_path / "cat" / f"{i}.png", image, "RGB")
    for i, image in enumerate(dogs):
        write(tmp_path / "dog" / f"{i}.bmp", image, "RGB")
    (tmp_path / "dog" / "README.txt").write_text("not an image")
    (tmp_path / "cat" / ".DS_Store").write_bytes(b"\0")
    frame = read_image_folder(tmp_path)
    assert list(frame.columns) == ["image", "label"]
    assert list(frame["label"].cat.categories) == ["cat", "dog"]
    assert list(frame["label"]) == ["cat"] * 3 + ["dog"] * 2
    assert frame.attrs["image_shape"] == {"image": [5, 4, 3]}
    assert frame.attrs["ignored_files"] == 2
    assert np.array_equal(images_array(frame), np.concatenate([cats, dogs]))
    grey = read_image_folder(tmp_path, mode="L")
    assert images_array(grey).shape == (5, 5, 4, 1)


def test_size_resizes_and_mixed_sizes_without_it_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "a" / "small.png", np.zeros((4, 4), np.uint8))
    write(tmp_path / "b" / "large.png", np.full((8, 6), 200, np.uint8))
    with pytest.raises(ImageFolderError, match=r"large.png is 6x8 .*small.png is 4x4"):
        read_image_folder(tmp_path, mode="L")
    frame = read_image_folder(tmp_path, size=(3, 2), mode="L")
    pixels = images_array(frame)
    assert pixels.shape == (2, 3, 2, 1)
    assert (pixels[0] == 0).all() and (pixels[1] == 200).all()


def test_bad_folders_and_files_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ImageFolderError, match="is not a folder"):
        read_image_folder(tmp_path / "absent")
    with pytest.raises(ImageFolderError, match="no class sub-folders"):
        read_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageFolderError, match="hold no images"):
        read_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageFolderError, match=r"broken.png: not a readable image"):
        read_image_folder(tmp_path)
    with pytest.raises(ImageFolderError, match="mode 'CMYK'"):
        read_image_folder(tmp_path, mode="CMYK")
    with pytest.raises(ImageFolderError, match=r"\[height, width\]"):
        read_image_folder(tmp_path, size=(0, 8))


def test_a_holder_prepares_an_image_folder_into_its_snapshot(tmp_path: Path) -> None:
    pixels, digits = digit_folder(tmp_path / "scans", 60)
    spec = {
        "name": "scans",
        "path": str(tmp_path / "scans"),
        "format": "images",
        "columns": {},
        "image_mode": "L",
    }
    report = prepare(spec, tmp_path / "scans.parquet")
    assert report["rows"] == 60 and report["ignored_files"] == 0
    assert report["columns"] == [
        {"name": "image", "type": "image", "shape": [8, 8, 1]},
        {"name": "label", "type": "category", "levels": [str(d) for d in range(10)]},
    ]
    # The runner reads the snapshot with pandas: the shape travels with it.
    snapshot = pd.read_parquet(tmp_path / "scans.parquet")
    assert np.array_equal(images_array(snapshot)[..., 0], pixels)
    assert list(snapshot["label"].cat.codes) == list(digits)
    json.dumps(report)  # the worker reads it as JSON


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": {"image": {"type": "float"}}}, "columns are always 'image' and 'label'"),
        ({"image_mode": "P"}, "'image_mode' must be one of L, RGB"),
        ({"image_size": [8]}, r"\[height, width\]"),
        ({"path": "nowhere"}, "dataset 'scans': nowhere is not a folder"),
    ],
)
def test_bad_image_specs_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    digit_folder(tmp_path / "scans", 10)
    spec = {"name": "scans", "path": str(tmp_path / "scans"), "format": "images", **change}
    with pytest.raises(DatasetError, match=message):
        prepare(spec, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_image_settings_on_a_table_are_refused(tmp_path: Path) -> None:
    spec = {"name": "t", "path": str(tmp_path / "t.csv"), "image_size": [8, 8]}
    with pytest.raises(DatasetError, match="only apply to image folders"):
        prepare(spec, tmp_path / "out.parquet")


def test_federated_cnn_on_image_folders_equals_central_gradient_descent(tmp_path: Path) -> None:
    digit_folder(tmp_path / "scans", 300)
    frame = read_image_folder(tmp_path / "scans", mode="L")
    members = [frame.iloc[:40], frame.iloc[40:150], frame.iloc[150:]]
    assert all(m.attrs["image_shape"] == {"image": [8, 8, 1]} for m in members)
    result = delta.debug(lt.DigitImages, data={"scans": members})
    central = lt.digit_cnn()
    x = torch.from_numpy(images_array(frame).transpose(0, 3, 1, 2) / 255.0)
    y = torch.from_numpy(frame["label"].cat.codes.to_numpy(np.int64))
    for _ in range(lt.DigitImages.rounds):
        lt.cnn_gd_step(central, x, y)
    for name, values in central.state_dict().items():
        assert np.abs(result.model[name] - values.numpy()).max() < EXACT, name
    with torch.no_grad():
        accuracy = float((central(x).argmax(1) == y).double().mean())
    assert result.history["eval_accuracy"].iloc[-1] == pytest.approx(accuracy, abs=1e-9)
    assert list(result.history["examples"]) == [300] * lt.DigitImages.rounds
