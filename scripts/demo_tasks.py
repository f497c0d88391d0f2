"""The task `make demo` submits. This whole file is the task package that
travels to every data holder and is checked there before it runs, so it
holds task code only (imports: delta, typing)."""

from __future__ import annotations

from typing import Any

import delta


class CohortStats(delta.Analytics):
    """A cohort description over every holder's `patients` dataset."""

    dataset = "patients"
    levels = {"sex": ["f", "m"]}

    def execute(self, df: delta.FederatedFrame) -> dict[str, Any]:
        return {
            "patients": df["age"].count(),
            "mean age": df["age"].mean(),
            "mean BMI": df["bmi"].mean(),
            "std BMI": df["bmi"].std(),
            "mean systolic BP by sex": df.groupby("sex")["sbp"].mean(),
            "corr(age, systolic BP)": df[["age", "sbp"]].corr()["sbp"]["age"],
        }
