"""Tasks for `test_analytics.py`, in a module of their own: `delta.debug`
packages the file that defines a task, and that file must pass the static
check a data holder runs (a test module importing pytest would not)."""

from __future__ import annotations

from typing import Any

from delta.analytics import Analytics, FederatedFrame, crosstab, logistic, ols

REGIONS = ["N", "S", "E", "W", "X"]  # "W" is rare, "X" never occurs
LEVELS: dict[str, list[Any]] = {"sex": ["F", "M"], "smoker": [0, 1], "region": REGIONS}
ALL_GROUP_STATS: list[Any] = ["count", "size", "sum", "mean", "var", "std", "sem"]


class Everything(Analytics):
    """Every statistic at once, on three members with missing values."""

    dataset = "patients"
    levels = LEVELS
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        adults = df[(df["age"] >= 18) & ~(df["sex"] == "M") | (df["bmi"] > 30)]
        df["score"] = (df["bmi"] * 2 + df["age"] / 10) ** 2 - df["age"]
        above = df[df["bmi"] > df["bmi"].mean()]
        return {
            "count": adults["age"].count(),
            "sum": adults["bmi"].sum(),
            "mean": adults["bmi"].mean(),
            "var": df["bmi"].var(),
            "var0": df["bmi"].var(ddof=0),
            "std": df["score"].std(),
            "sem": df["bmi"].sem(),
            "neg_mean": (-df["age"]).mean(),
            "old": (df["age"] > 50).sum(),
            "old_share": (df["age"] > 50).mean(),
            "frame_mean": df[["age", "bmi"]].mean(),
            "frame_std": df[["age", "bmi"]].std(),
            "frame_count": df[["age", "bmi"]].count(),
            "cov": df[["age", "bmi", "score"]].cov(),
            "corr": df[["age", "bmi", "score"]].corr(),
            "q": df["age"].quantile([0.1, 0.25, 0.5, 0.75, 0.9]),
            "q1": df["bmi"].quantile(0.33),
            "frame_q": df[["age", "bmi"]].quantile([0.2, 0.8]),
            "median": df["bmi"].median(),
            "min": adults["bmi"].min(),
            "max": df["age"].max(),
            "desc": df["bmi"].describe(),
            "frame_desc": df[["age", "bmi"]].describe(),
            "hist": df["age"].histogram(bins=[0, 18, 40, 65, 120]),
            "vc": df["region"].value_counts(),
            "vc_norm": df["sex"].value_counts(normalize=True),
            "by_sex": df.groupby("sex")["bmi"].mean(),
            "by_sex_all": df.groupby("sex")["bmi"].agg(ALL_GROUP_STATS),
            "by_two": df.groupby(["sex", "smoker"])[["age", "bmi"]].mean(),
            "by_old": df.groupby(df["age"] > 50)["bmi"].std(),
            "size": df.groupby("region").size(),
            "table": crosstab(df["sex"], df["smoker"]),
            "ols": ols(df, y="bmi", x=["age", "smoker"]),
            "logit": logistic(df, y="smoker", x=["age", "bmi"]),
            "above": above["age"].mean(),
            "ratio": df["bmi"].sum() / df["bmi"].count(),
        }


class Groups(Analytics):
    """Count, sum and mean by a level that never occurs."""

    dataset = "patients"
    levels = LEVELS
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        return df.groupby("region")["bmi"].agg(["count", "sum", "mean"])


class Expressions(Analytics):
    """Selections, derived columns and element-wise operations."""

    dataset = "patients"
    levels = LEVELS
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        d = df.assign(ratio=lambda f: f["bmi"] / f["age"], one=1.0)
        d["heavy"] = d["bmi"] > 27
        mean_age = d["age"].mean()
        return {
            "loc": d.loc[d["sex"].isin(["F"]), "bmi"].sum(),
            "loc_cols": d.loc[d["age"].between(20, 40), ["age", "ratio"]].mean(),
            "dropna": d[["age", "bmi"]].dropna().count(),
            "fillna": d["bmi"].fillna(0.0).mean(),
            "where": d["bmi"].where(d["age"] > 30).mean(),
            "clip": d["bmi"].clip(20, 25).var(),
            "math": ((d["bmi"] - 25).abs().log1p() + (d["age"] / 100).exp()).sum(),
            "sqrt": (d["age"].sqrt().round(2) % 3 // 1).sum(),
            "rows": d.count_rows(),
            "isna": d["bmi"].isna().sum(),
            "xor": ((d["sex"] == "F") ^ d["heavy"]).sum(),
            "or": d[(d["age"] < 20) | (d["region"] != "N")]["ratio"].mean(),
            "pow": (2 ** (d["smoker"] + 1) - 1 / d["one"]).mean(),
            "heavy": d["heavy"].value_counts(sort=False),
            "centred": (d["age"] - mean_age).var(),
            "lazy": (d["bmi"].std() * 2 + 1).pipe(round, 6),
            "pick": d[["age", "bmi"]].mean()["bmi"],
            "attr": d.age.max(),
        }


class Peek(Analytics):
    """Branches on a statistic, which is not known inside execute."""

    dataset = "patients"

    def execute(self, df: FederatedFrame) -> Any:
        if df["age"].mean() > 3:  # not knowable here
            return df["age"].count()
        return df["age"].sum()


class Empty(Analytics):
    """Statistics of a filter no row passes."""

    dataset = "patients"
    levels = LEVELS
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        none = df[df["age"] > 1000]
        return {
            "count": none["bmi"].count(),
            "sum": none["bmi"].sum(),
            "mean": none["bmi"].mean(),
            "std": none["bmi"].std(),
            "median": none["bmi"].median(),
            "desc": none["bmi"].describe(),
            "groups": none.groupby("sex")["bmi"].agg(["count", "sum", "mean"]),
            "corr": none[["age", "bmi"]].corr(),
        }


class Guarded(Analytics):
    """The default guardrail: cells under 5 rows are withheld."""

    dataset = "patients"
    levels = LEVELS

    def execute(self, df: FederatedFrame) -> Any:
        few = df[df["region"] == "W"]  # 3 rows in all
        return {
            "few_mean": few["bmi"].mean(),
            "few_count": few["age"].count(),
            "few_median": few["age"].median(),
            "vc": df["region"].value_counts(sort=False),
            "groups": df.groupby("region")["age"].agg(["count", "mean"]),
            "group_std": df.groupby("region")["age"].std(),
            "table": crosstab(df["region"], df["smoker"]),
            "hist": df["age"].histogram(bins=[0, 11, 40, 65, 120]),
            "mean": df["bmi"].mean(),
        }


class Rounds(Analytics):
    """Several multi-round statistics at once, for the dropout tests."""

    dataset = "patients"
    levels = LEVELS
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        return {
            "std": df["bmi"].std(),
            "q": df["age"].quantile([0.25, 0.5]),
            "groups": df.groupby("sex")["bmi"].var(),
            "n": df.count_rows(),
        }


class Scale(Analytics):
    """Values near 1e9 and near 1e-7."""

    dataset = "d"
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        return {
            "mean": df[["t", "p"]].mean(),
            "std": df[["t", "p"]].std(),
            "corr": df[["t", "p"]].corr(),
        }


class Wide(Analytics):
    """Quantiles with 65535 search points a round."""

    dataset = "patients"
    min_cell_count = 0
    search_points = 65535  # 16 bits a round: exact after 64 / 16 = 4 rounds

    def execute(self, df: FederatedFrame) -> Any:
        return df["bmi"].quantile([0.3, 0.7])


class NoLevels(Analytics):
    """Groups by a column whose levels it does not declare."""

    dataset = "patients"

    def execute(self, df: FederatedFrame) -> Any:
        return df.groupby("sex")["bmi"].mean()


class DeclaredSex(NoLevels):
    """The same groupby, declaring the levels itself."""

    levels = {"sex": ["F", "M"]}


class Inline(Analytics):
    """Levels given in the call instead of the class."""

    dataset = "patients"
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        return {
            "g": df.groupby("sex", levels=["F", "M"])["bmi"].mean(),
            "vc": df["smoker"].value_counts(levels=[0, 1], sort=False),
        }


class Pairs(Analytics):
    """Pairwise-complete covariances and correlations."""

    dataset = "d"
    min_cell_count = 0
    columns = list("abcdefg")

    def execute(self, df: FederatedFrame) -> Any:
        cols = self.columns
        high = df[df["a"] > 5.0]
        return {
            "cov": df[cols].cov(),
            "cov0": df[["e", "f"]].cov(ddof=0),  # pandas ignores ddof if NaN occur
            "corr": df[cols].corr(),
            "high": high[["a", "b", "e"]].cov(),
            "one": df[["a"]].corr(),
        }


class GuardedPairs(Pairs):
    """`Pairs` under the default guardrail on small cells."""

    min_cell_count = 5
