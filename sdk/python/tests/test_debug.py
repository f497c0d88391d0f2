"""`delta.debug` runs MapReduce tasks through the real engine: exact sums,
dropouts, refusals and failures as a real run would have them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import delta


class Moments(delta.MapReduce):
    """Two steps: column means, then sample variances around them."""

    dataset = "values"
    columns = ["a", "b"]

    def start(self) -> delta.Step:
        return delta.Step("mean", {"sum": 2, "n": 1})

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        x = df[self.columns].to_numpy(dtype=float)
        if step.name == "mean":
            return {"sum": x.sum(axis=0), "n": np.array([len(x)])}
        mean = np.asarray(step.params["mean"])
        return {"squares": ((x - mean) ** 2).sum(axis=0), "n": np.array([len(x)])}

    def reduce(
        self, step: delta.Step, sums: Mapping[str, np.ndarray], members: int
    ) -> delta.Step | delta.Done:
        n = sums["n"][0]
        if step.name == "mean":
            mean = (sums["sum"] / n).tolist()
            return delta.Step("var", {"squares": 2, "n": 1}, {"mean": mean})
        return delta.Done({"var": sums["squares"] / (n - 1), "n": n, "members": members})


def frames(count: int, rows: int = 50) -> list[pd.DataFrame]:
    rng = np.random.default_rng(7)
    return [
        pd.DataFrame({"a": rng.normal(10, 3, rows + i), "b": rng.integers(0, 100, rows + i)})
        for i in range(count)
    ]


def test_the_answer_is_pandas_on_the_pooled_data() -> None:
    parts = frames(3)
    report: dict[str, object] = {}
    out = delta.debug(Moments(), {"values": parts}, report=report)
    pooled = pd.concat(parts)
    np.testing.assert_allclose(out["var"], pooled[["a", "b"]].var().to_numpy(), rtol=1e-9)
    assert out["n"] == len(pooled)
    assert report["rounds"] == 2
    assert report["outcome"] == "done"


def test_one_frame_is_split_into_members() -> None:
    whole = pd.concat(frames(2), ignore_index=True)
    out = delta.debug(Moments(), {"values": whole}, members=4)
    assert out["members"] == 4
    np.testing.assert_allclose(out["var"], whole[["a", "b"]].var().to_numpy(), rtol=1e-9)


def test_csv_and_parquet_files_are_members_too(tmp_path: Path) -> None:
    parts = frames(2)
    csv = tmp_path / "one.csv"
    parquet = tmp_path / "two.parquet"
    parts[0].to_csv(csv, index=False)
    parts[1].to_parquet(parquet)
    out = delta.debug(Moments(), {"values": [csv, parquet]})
    np.testing.assert_allclose(out["var"], pd.concat(parts)[["a", "b"]].var(), rtol=1e-9)
    with pytest.raises(ValueError, match="only .csv and .parquet"):
        delta.debug(Moments(), {"values": [csv, tmp_path / "three.xlsx"]})


def test_a_member_dropping_mid_round_leaves_the_survivors_answer() -> None:
    parts = frames(4)
    out = delta.debug(Moments(), {"values": parts}, drop={1: (0, "before_masked")})
    survivors = pd.concat([parts[0], parts[2], parts[3]])
    assert out["members"] == 3
    np.testing.assert_allclose(out["var"], survivors[["a", "b"]].var().to_numpy(), rtol=1e-9)


def test_a_member_whose_input_arrived_counts_even_if_it_never_reveals() -> None:
    parts = frames(4)
    out = delta.debug(Moments(), {"values": parts}, drop={2: (0, "before_reveal")})
    np.testing.assert_allclose(out["var"], pd.concat(parts)[["a", "b"]].var(), rtol=1e-9)


def test_too_few_members_fail_with_the_ledgers_reason() -> None:
    parts = frames(3)
    with pytest.raises(delta.TaskFailed, match="TooFewMasked") as failure:
        delta.debug(
            Moments(),
            {"values": parts},
            drop={0: (0, "before_masked"), 1: (0, "before_masked")},
        )
    assert any("round 0 started" in line for line in failure.value.progress)


def test_a_member_below_its_minimum_rows_refuses() -> None:
    parts = frames(3)
    small = parts[0].iloc[:5]
    out = delta.debug(Moments(), {"values": [small, parts[1], parts[2]]}, min_rows=20)
    np.testing.assert_allclose(
        out["var"], pd.concat(parts[1:])[["a", "b"]].var().to_numpy(), rtol=1e-9
    )
    assert out["members"] == 2


class Broken(Moments):
    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        return {"sum": np.array([1.0]), "n": np.array([len(df)])}


def test_malformed_map_outputs_are_refused_by_every_member() -> None:
    report: dict[str, object] = {}
    with pytest.raises(delta.TaskFailed):
        delta.debug(Broken(), {"values": frames(3)}, report=report)
    failures = report["member_failures"]
    assert isinstance(failures, list)
    assert all(any("has 1 values, expected 2" in f for f in member) for member in failures)


class Huge(Moments):
    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        return {"sum": np.array([1e15, 0.0]), "n": np.array([len(df)])}


def test_values_beyond_the_encoding_are_refused_never_wrapped() -> None:
    report: dict[str, object] = {}
    with pytest.raises(delta.TaskFailed, match="outside the encoding's range") as failed:
        delta.debug(Huge(), {"values": frames(3)}, report=report)
    # The requester learns which output and the bound, never the value.
    assert "1000000000000000" not in failed.value.reason
    assert "fewer than the threshold" in failed.value.reason
    failures = report["member_failures"]
    assert isinstance(failures, list)
    assert "outside" in failures[0][0]


def test_missing_data_and_bad_arguments_are_named() -> None:
    with pytest.raises(KeyError, match="no data for dataset 'values'"):
        delta.debug(Moments(), {"other": frames(2)})
    with pytest.raises(ValueError, match="drop point"):
        delta.debug(Moments(), {"values": frames(3)}, drop={0: (0, "sometime")})
    with pytest.raises(ValueError, match="at least 2 members"):
        delta.debug(Moments(), {"values": frames(1)})


def test_a_task_missing_a_step_function_is_refused_when_created() -> None:
    class NoReduce(delta.MapReduce):
        dataset = "values"

        def start(self) -> delta.Step:
            return delta.Step("s", {"n": 1})

        def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
            return {"n": np.array([len(df)])}

    with pytest.raises(TypeError, match="reduce"):
        NoReduce()  # type: ignore[abstract]

    class NoExecute(delta.Analytics):
        dataset = "values"

    with pytest.raises(TypeError, match="execute"):
        NoExecute()  # type: ignore[abstract]
