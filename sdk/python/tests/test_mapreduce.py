"""`delta.mapreduce.flatten`: a member's outputs as the bytes the worker
reads, each converted once to its declared wire type."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

from delta.mapreduce import MapReduce, Output, Step, flatten, unflatten

STEP = Step(
    "s",
    {"f": Output((2, 2)), "h": Output((3,), "float32"), "n": Output((), "int64")},
)


def test_each_output_in_order_in_its_declared_type() -> None:
    raw = flatten(STEP, {"n": 7, "h": np.array([1.5, -2.0, 3.25]), "f": [[0.1, 0.2], [0.3, 0.4]]})
    want = (
        np.array([0.1, 0.2, 0.3, 0.4], "<f8").tobytes()
        + np.array([1.5, -2.0, 3.25], "<f4").tobytes()
        + np.array([7], "<i8").tobytes()
    )
    assert raw == want


def test_integers_declared_int64_are_carried_exactly() -> None:
    step = Step("s", {"n": Output((3,), "int64")})
    values = np.array([2**62 + 1, -(2**62) - 3, 5], dtype=np.int64)
    assert flatten(step, {"n": values}) == values.astype("<i8").tobytes()
    assert flatten(step, {"n": [2**62 + 1, -(2**62) - 3, 5]}) == values.astype("<i8").tobytes()
    # Whole floats and booleans are counts too.
    assert flatten(step, {"n": [1.0, 0.0, 2.0]}) == np.array([1, 0, 2], "<i8").tobytes()
    assert flatten(step, {"n": [True, False, True]}) == np.array([1, 0, 1], "<i8").tobytes()


def test_an_integer_declared_float32_is_rounded_once() -> None:
    """2^60 + 2^36 + 1 rounds up to 2^60 + 2^37 in float32, but through
    float64 first it becomes 2^60 + 2^36, a tie that rounds to 2^60: only a
    single conversion gives the nearest float32."""
    step = Step("s", {"w": Output((1,), "float32")})
    value = np.array([2**60 + 2**36 + 1], dtype=np.int64)
    raw = flatten(step, {"w": value})
    assert np.frombuffer(raw, "<f4")[0] == np.float32(2**60 + 2**37)


def test_float32_weights_are_not_widened() -> None:
    """A large float32 output costs its bytes, not a float64 copy first."""
    size = 1 << 20
    step = Step("s", {"w": Output((size,), "float32")})
    weights = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    tracemalloc.start()
    try:
        raw = flatten(step, {"w": weights})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert raw == weights.tobytes()
    assert peak < 3 * weights.nbytes  # a float64 copy alone would be twice its size


def test_sums_come_back_in_the_declared_shapes() -> None:
    sums = (
        np.arange(4, dtype="<f8").tobytes()
        + np.array([0.5, 1.5, 2.5], "<f8").tobytes()
        + np.array([9], "<i8").tobytes()
    )
    out = unflatten(STEP, sums)
    assert out["f"].shape == (2, 2) and out["f"].dtype == np.float64
    assert out["h"].tolist() == [0.5, 1.5, 2.5] and out["h"].dtype == np.float64
    assert out["n"].shape == () and out["n"].dtype == np.int64 and int(out["n"]) == 9


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"f": [0.0] * 4, "h": [0.0] * 3},
            r"map returned \['f', 'h'\], expected \['f', 'h', 'n'\]",
        ),
        (
            {"f": [0.0] * 4, "h": [0.0] * 3, "n": 1, "x": 2},
            r"map returned \['f', 'h', 'n', 'x'\], expected \['f', 'h', 'n'\]",
        ),
        ({"f": [0.0] * 3, "h": [0.0] * 3, "n": 1}, r"output 'f' has 3 values, expected 4 \(shape"),
        ({"f": [0.0] * 4, "h": [0.0] * 2, "n": 1}, "output 'h' has 2 values, expected 3"),
        ({"f": [0.0] * 4, "h": [0.0] * 3, "n": [1, 2]}, "output 'n' has 2 values, expected 1"),
        ({"f": [0.0] * 4, "h": [0.0] * 3, "n": [1.0, 2.0]}, "output 'n' has 2 values, expected 1"),
        ({"f": [np.nan] + [0.0] * 3, "h": [0.0] * 3, "n": 1}, "output 'f' holds NaN or infinity"),
        ({"f": [0.0] * 4, "h": [np.inf, 0.0, 0.0], "n": 1}, "output 'h' holds NaN or infinity"),
        # Finite as a float64, but beyond float32's range: infinity in its wire type.
        ({"f": [0.0] * 4, "h": [1e39, 0.0, 0.0], "n": 1}, "output 'h' holds NaN or infinity"),
        ({"f": [0.0] * 4, "h": [0.0] * 3, "n": np.nan}, "output 'n' holds NaN or infinity"),
        ({"f": [0.0] * 4, "h": [0.0] * 3, "n": 1.5}, "'n' is declared int64 and holds fractions"),
        ({"f": [0.0] * 4, "h": [0.0] * 3, "n": 2.0**63}, "fractions or values beyond 2\\*\\*62"),
    ],
)
def test_refusals_name_the_step_and_output(arrays: dict[str, Any], message: str) -> None:
    with np.errstate(over="ignore"), pytest.raises(ValueError, match=f"^step 's': .*{message}"):
        flatten(STEP, arrays)


def test_values_that_are_not_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="could not convert string to float"):
        flatten(STEP, {"f": ["a"] * 4, "h": [0.0] * 3, "n": 1})
    with pytest.raises(ValueError, match="could not convert string to float"):
        flatten(STEP, {"f": [0.0] * 4, "h": [0.0] * 3, "n": "a"})


def test_a_task_that_keeps_checkpoints_must_say_how_to_resume() -> None:
    class Plain(MapReduce):
        dataset = "d"

        def start(self) -> Step:
            return Step("s", {"n": 1})

        def map(self, step: Step, df: Any) -> dict[str, Any]:
            return {"n": 1}

        def reduce(self, step: Step, sums: Any, members: int) -> Any:
            return None

    assert not Plain.resumable()
    with pytest.raises(TypeError, match="defines checkpoint but not resume"):

        class Half(Plain):
            def checkpoint(self) -> bytes | None:
                return b"state"

    class Whole(Plain):
        def checkpoint(self) -> bytes | None:
            return b"state"

        def resume(self, checkpoint: bytes | None, rounds_started: int) -> Step:
            return self.start()

    assert Whole.resumable()
