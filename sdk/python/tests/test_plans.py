"""Analytics plans at members: the holder's SDK evaluates them and never
the requester's code; malformed or tampered plans are refused by name."""

from __future__ import annotations

import json
from typing import Any

import debug_tasks
import numpy as np
import pandas as pd
import plan_tasks
import pytest
from plan_tasks import TARGET_ROWS

import delta
from delta.analytics import PlanError, check_plan
from delta.mapreduce import Output, Step
from delta.package import PackageError, load_package, package_for


def frames() -> list[pd.DataFrame]:
    rng = np.random.default_rng(5)
    out = []
    for rows in (TARGET_ROWS, 90, 60):
        out.append(
            pd.DataFrame(
                {"age": rng.integers(10, 90, rows).astype(float), "bmi": rng.normal(25, 3, rows)}
            )
        )
    return out


def run(task: Any) -> Any:
    return delta.debug(task, data={"patients": frames()})


def honest_step() -> Step:
    task = plan_tasks.HonestMean()
    return task.start()


def test_an_analytics_package_tells_members_to_run_its_plan_and_code_packages_say_code() -> None:
    assert package_for(plan_tasks.HonestMean).manifest["members_run"] == "plan"
    assert package_for(plan_tasks.OnlyTheTarget).manifest["members_run"] == "plan"
    assert package_for(debug_tasks.Moments).manifest["members_run"] == "code"


def test_members_never_run_a_requesters_map_so_singling_one_out_fails() -> None:
    pooled = pd.concat(frames(), ignore_index=True)
    honest = run(plan_tasks.HonestMean())
    hostile = run(plan_tasks.OnlyTheTarget())
    assert hostile == honest
    assert honest["count"] == len(pooled)
    assert honest["mean"] == pytest.approx(pooled["age"].mean(), rel=1e-12)
    target = frames()[0]
    assert hostile["mean"] != pytest.approx(target["age"].mean(), rel=1e-6)


def test_outputs_longer_than_the_plan_are_refused_by_every_member() -> None:
    with pytest.raises(delta.TaskFailed) as failed:
        run(plan_tasks.GrowingOutputs())
    assert "declined: not a well-formed analytics plan: output 'r0' is declared" in str(
        failed.value
    )


def test_an_unknown_operation_is_refused_before_any_row_is_read() -> None:
    with pytest.raises(delta.TaskFailed) as failed:
        run(plan_tasks.UnknownOperation())
    assert (
        "not a well-formed analytics plan: request 'r0'.mask: unknown operation 'rows_of'"
        in str(failed.value)
    )


def test_check_plan_accepts_what_the_planner_writes() -> None:
    check_plan(honest_step())


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda s: Step("other", s.outputs, s.params), "is not an analytics plan"),
        (
            lambda s: Step(s.name, s.outputs, {**s.params, "code": "x"}),
            "'round' and 'requests' only",
        ),
        (lambda s: Step(s.name, {**s.outputs, "extra": 1}, s.params), "declares outputs"),
        (
            lambda s: Step(
                s.name, {n: Output((k,), "int64") for n, k in s.outputs.items()}, s.params
            ),
            "float64 values",
        ),
        (lambda s: _first(s, lambda spec: spec.update(kind="rows")), "unknown kind"),
        (lambda s: _first(s, lambda spec: spec.update(extra=1)), "fields"),
        (
            lambda s: _first(s, lambda spec: spec.update(mask={"op": "col", "name": 3})),
            "a column is",
        ),
        (
            lambda s: _first(s, lambda spec: spec.update(mask={"op": "add", "args": []})),
            "takes 2 arguments",
        ),
        (lambda s: _first(s, lambda spec: spec.update(mask=_deep(80))), "nested deeper"),
    ],
)
def test_tampered_plans_are_refused_by_name(tamper: Any, reason: str) -> None:
    with pytest.raises(PlanError, match=reason):
        check_plan(tamper(honest_step()))


def _first(step: Step, change: Any) -> Step:
    requests = json.loads(json.dumps(step.params["requests"]))
    change(next(iter(requests.values())))
    return Step(step.name, step.outputs, {**step.params, "requests": requests})


def _deep(depth: int) -> dict[str, Any]:
    expr: dict[str, Any] = {"op": "col", "name": "age"}
    for _ in range(depth):
        expr = {"op": "neg", "args": [expr]}
    return expr


def test_a_package_with_an_unknown_members_run_is_refused() -> None:
    package = package_for(plan_tasks.HonestMean)
    manifest = {**package.manifest, "members_run": "both"}
    raw = json.dumps(
        {"files": package.files, "manifest": manifest},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    with pytest.raises(PackageError, match="members_run"):
        load_package(raw)


def grouped_frames() -> list[pd.DataFrame]:
    """Member 0 holds 2 rows of group "b" (both over 80), member 1 holds 10,
    member 2 none."""

    def frame(a: int, b: int, b_age: float) -> pd.DataFrame:
        return pd.DataFrame({"g": ["a"] * a + ["b"] * b, "age": [40.0] * a + [b_age] * b})

    return [frame(50, 2, 85.0), frame(40, 10, 60.0), frame(30, 0, 0.0)]


def test_a_member_withholds_cells_of_fewer_rows_than_its_min_cell_rows() -> None:
    data = {"patients": grouped_frames()}
    everything = delta.debug(plan_tasks.GroupCounts(), data=data)
    assert everything["count"].to_dict() == {"a": 120, "b": 12}
    assert everything["old"] == 2

    guarded = delta.debug(plan_tasks.GroupCounts(), data=data, min_cell_rows=5)
    # Member 0's two "b" rows (and its two rows over 80) stay at home; the
    # other cells are unchanged.
    assert guarded["count"].to_dict() == {"a": 120, "b": 10}
    assert guarded["mean"]["b"] == pytest.approx(60.0)
    assert guarded["mean"]["a"] == pytest.approx(40.0)
    assert guarded["old"] == 0
