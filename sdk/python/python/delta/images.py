"""`delta.images`: image folders (one sub-folder per class) as frames.

A holder's image dataset is a folder such as

    scans/
      benign/    0001.png 0002.png ...
      malignant/ 0001.png ...

Its worker prepares it into the same kind of Parquet snapshot as a table
(`delta.datasets`, format "images"): one row per image, an `image` column
holding the pixels and a `label` column, a category whose levels are the
sub-folders' names in sorted order. A requester tries the same task in
`delta.debug` on frames from `read_image_folder`, so that what runs at the
holders is what ran locally.

Pixels are kept as they are stored, uint8 in height x width x channels
order, one flat array per row; the frame's `attrs["image_shape"]` (kept in
the Parquet file) says the shape. `images_array` gives them back as one
(N, H, W, C) array; a learning task with `features = ("image",)` receives
them as (N, C, H, W) floats in [0, 1], the layout torch's convolutions take.

Pillow reads the files (`pip install pillow`; only a holder preparing an
image folder and a requester reading one locally need it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["IMAGE_MODES", "IMAGE_SUFFIXES", "ImageFolderError", "images_array", "read_image_folder"]

IMAGE_MODES = {"L": 1, "RGB": 3}
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
# A decompression bomb is refused before its pixels are allocated.
_MAX_PIXELS = 50_000_000


class ImageFolderError(Exception):
    """The folder cannot be read as an image dataset; the message names
    the folder or file and says what to fix."""


def read_image_folder(
    path: str | Path, size: Sequence[int] | None = None, mode: str = "RGB"
) -> pd.DataFrame:
    """Reads every image under `path`'s class sub-folders into a frame
    with columns `image` (flat uint8 pixels) and `label` (a category).

    `size` = (height, width) resizes every image (bilinear) so that images
    of different sizes make one dataset; without it every image must have
    the size of the first. `mode` is "RGB" (3 channels) or "L" (grey, 1
    channel); images are converted to it. Hidden files and files whose
    suffix is not an image's are ignored; their count is in
    `attrs["ignored_files"]`. Rows are ordered by class, then file name.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise ImageFolderError("reading an image folder needs Pillow: pip install pillow") from exc
    folder = Path(path)
    channels = IMAGE_MODES.get(mode)
    if channels is None:
        raise ImageFolderError(f"image mode {mode!r} is not one of {sorted(IMAGE_MODES)}")
    target = image_size_of(size)
    if not folder.is_dir():
        raise ImageFolderError(f"{folder} is not a folder")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ImageFolderError(
            f"{folder} has no class sub-folders (an image dataset is one sub-folder per class)"
        )
    pixels: list[np.ndarray] = []
    labels: list[str] = []
    ignored = 0
    shape: tuple[int, int, int] | None = None
    first: Path | None = None
    for name in classes:
        for file in sorted((folder / name).iterdir()):
            if file.name.startswith(".") or not file.is_file():
                ignored += 1
                continue
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                ignored += 1
                continue
            try:
                with Image.open(file) as image:
                    width, height = image.size
                    if width * height > _MAX_PIXELS:
                        raise ImageFolderError(
                            f"{file}: {width}x{height} pixels is more than {_MAX_PIXELS:,}"
                        )
                    converted = image.convert(mode)
                    if target is not None and (height, width) != target:
                        converted = converted.resize(
                            (target[1], target[0]), Image.Resampling.BILINEAR
                        )
                    array = np.asarray(converted, dtype=np.uint8)
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise ImageFolderError(f"{file}: not a readable image ({exc})") from exc
            here = (array.shape[0], array.shape[1], channels)
            if shape is None:
                shape, first = here, file
            elif here != shape:
                raise ImageFolderError(
                    f"{file} is {here[1]}x{here[0]} (width x height) but {first} is "
                    f"{shape[1]}x{shape[0]}; set a size to resize every image to one size"
                )
            pixels.append(array.reshape(-1))
            labels.append(name)
    if shape is None:
        raise ImageFolderError(f"{folder}: its class sub-folders hold no images")
    frame = pd.DataFrame(
        {
            "image": pd.Series(pixels, dtype=object),
            "label": pd.Categorical(labels, categories=classes),
        }
    )
    frame.attrs["image_shape"] = {"image": list(shape)}
    frame.attrs["ignored_files"] = ignored
    return frame


def images_array(frame: pd.DataFrame, column: str = "image") -> np.ndarray:
    """The images of `frame[column]` as one (N, H, W, C) uint8 array, by
    the shape `read_image_folder` recorded in `frame.attrs`."""
    shape = image_shape(frame, column)
    if shape is None:
        raise ValueError(
            f"column {column!r} holds no images (no image shape in the frame's attrs; "
            "read it with delta.images.read_image_folder)"
        )
    values = frame[column].to_numpy()
    if len(values) == 0:
        return np.zeros((0, *shape), dtype=np.uint8)
    flat = np.stack([np.asarray(v, dtype=np.uint8) for v in values])
    size = int(np.prod(shape))
    if flat.shape[1] != size:
        raise ValueError(
            f"column {column!r} holds {flat.shape[1]} values per image, not {size} for {shape}"
        )
    return flat.reshape(len(values), *shape)


def image_shape(frame: pd.DataFrame, column: str) -> tuple[int, int, int] | None:
    """The (H, W, C) shape of `frame[column]`'s images, or None when the
    column holds no images."""
    shapes: Any = frame.attrs.get("image_shape")
    if not isinstance(shapes, dict) or column not in shapes:
        return None
    h, w, c = (int(v) for v in shapes[column])
    return h, w, c


def image_size_of(size: Any) -> tuple[int, int] | None:
    """`size` as (height, width), checked: two integers in 1..4096."""
    if size is None:
        return None
    values = list(size) if isinstance(size, list | tuple) else []
    if len(values) != 2 or not all(_side(v) for v in values):
        raise ImageFolderError(
            f"image size must be [height, width], integers in 1..4096, not {size!r}"
        )
    return values[0], values[1]


def _side(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4096
