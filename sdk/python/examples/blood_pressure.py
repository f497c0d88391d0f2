"""The blood-pressure study of `federated_statistics.py`: a task lives in a
module of its own, because that file is what travels to the hospitals,
where it is checked statically and imported (a notebook's other cells,
with their data and their `delta.debug` calls, never travel)."""

from __future__ import annotations

from typing import Any

import delta

BMI_CLASSES = [0.0, 18.5, 25.0, 30.0, 35.0, 40.0, 100.0]  # WHO: under, normal, over, obese I-III


class BloodPressureStudy(delta.Analytics):
    dataset = "patients"
    levels = {"sex": ["F", "M"], "smoker": [0, 1]}
    min_cell_count = 5

    def execute(self, df: delta.FederatedFrame) -> dict[str, Any]:
        hypertensive = df["sbp"] >= 140
        over_60 = df[df["age"] > 60]
        return {
            "patients": df.count_rows(),
            "sbp": df["sbp"].describe(),
            "sbp by smoker": df.groupby("smoker")["sbp"].agg(["count", "mean", "std"]),
            "sbp by sex": df.groupby("sex")["sbp"].mean(),
            "hypertension share": hypertensive.mean(),
            "hypertension share, over 60": (over_60["sbp"] >= 140).mean(),
            "sex x smoker": delta.crosstab(df["sex"], df["smoker"]),
            "age bands": df["age"].histogram(bins=[18, 40, 60, 80, 100]),
            "bmi classes": df["bmi"].histogram(bins=BMI_CLASSES, right=False),
            "correlations": df[["age", "bmi", "sbp"]].corr(),
            "regression": delta.ols(df, y="sbp", x=["age", "bmi", "smoker"]),
        }
