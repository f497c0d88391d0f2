"""`delta.check` refuses task source that could leave the task model, at
the exact line and column, with a reason the author can act on, and lets
ordinary numpy/pandas task code through."""

from __future__ import annotations

import textwrap

import pytest

from delta.check import TaskRejected, Violation, check_or_raise, check_source

ALLOWED = (
    "tasks may use numpy, pandas, math, statistics, delta, typing, typing_extensions, "
    "dataclasses, collections, itertools, functools, operator, enum, abc, __future__, "
    "fractions, decimal, numbers, heapq, bisect, re, json, copy, string, datetime, torch"
)
FILES = "file and network access is not allowed in tasks"
DYNAMIC = "dynamic attribute access can reach forbidden objects"
DUNDER = "dunder attributes can reach forbidden objects"
PICKLE = "pickle is never used: it runs code on load"


def found(source: str, filename: str = "task.py") -> list[tuple[int, int, str]]:
    """(line, column, reason) of every violation in a dedented source."""
    return [(v.line, v.column, v.reason) for v in check_source(textwrap.dedent(source), filename)]


REALISTIC_TASK = '''
    """Mean and variance of a column, in two steps."""

    from __future__ import annotations

    import json
    import math
    import re
    from collections import namedtuple
    from collections.abc import Mapping
    from dataclasses import dataclass, field
    from typing import Any, ClassVar

    import numpy as np
    import pandas as pd

    import delta
    from delta import Done, MapReduce, Step

    from .helpers import clean_column

    Summary = namedtuple("Summary", ["mean", "var"])
    NUMBER = re.compile(r"^-?[0-9.]+$")


    @dataclass
    class Options:
        column: str = "age"
        bins: list[float] = field(default_factory=lambda: [0.0, 18.0, 65.0, 120.0])


    class MeanVariance(MapReduce):
        dataset: ClassVar[str] = "patients"
        max_rounds: ClassVar[int] = 4
        __slots__ = ()

        def __init__(self, options: Options | None = None) -> None:
            super().__init__()
            self._options = options or Options()
            self._cache: dict[str, Any] = {}

        def __repr__(self) -> str:
            return f"{type(self).__name__}({self._options.column!r})"

        def start(self) -> Step:
            return Step("mean", {"sum": 1, "n": 1})

        def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
            x = clean_column(df[self._options.column]).to_numpy(dtype=float)
            x = x[~np.isnan(x)]
            adults = df[df["age"] >= 18]
            counts, _ = np.histogram(x, bins=self._options.bins)
            summary = df.describe().to_string(index=False)
            del summary, adults
            if step.name == "mean":
                return {"sum": np.array([x.sum()]), "n": np.array([len(x)]), "hist": counts}
            mean = float(step.params["mean"])
            return {"squares": np.array([((x - mean) ** 2).sum()]), "n": np.array([len(x)])}

        def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
            n = float(sums["n"][0])
            if step.name == "mean":
                label = "{} members, {:.0f} rows".format(members, n)
                return Step("var", {"squares": 1, "n": 1}, {"mean": sums["sum"][0] / n, "l": label})
            var = float(sums["squares"][0]) / max(n - 1.0, 1.0)
            result = Summary(mean=math.nan, var=var)._replace(mean=json.loads("0"))
            return Done(result._asdict())


    def describe() -> str:
        return MeanVariance.__name__ + delta.__version__


    if __name__ == "__main__":
        print(describe())
'''


def test_a_realistic_map_reduce_task_passes() -> None:
    assert found(REALISTIC_TASK) == []


def test_torch_model_eval_without_arguments_passes() -> None:
    assert found("import torch\nmodel = torch.nn.Linear(2, 1)\nmodel.eval()\n") == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "import os\n",
            [(1, 8, f"import of 'os' is not allowed: {ALLOWED}")],
            id="os",
        ),
        pytest.param(
            "import numpy as np\nimport subprocess as sp\n",
            [(2, 8, f"import of 'subprocess' is not allowed: {ALLOWED}")],
            id="subprocess",
        ),
        pytest.param(
            "x = 1\n\nfrom socket import socket\n",
            [(3, 1, f"import of 'socket' is not allowed: {ALLOWED}")],
            id="socket",
        ),
        pytest.param(
            "import math, ctypes.util\n",
            [(1, 14, f"import of 'ctypes.util' is not allowed: {ALLOWED}")],
            id="ctypes",
        ),
        pytest.param(
            "import os.path\nfrom os import path\n",
            [
                (1, 8, f"import of 'os.path' is not allowed: {ALLOWED}"),
                (2, 1, f"import of 'os' is not allowed: {ALLOWED}"),
            ],
            id="os-path",
        ),
        pytest.param(
            "import pickle\nfrom marshal import loads\nimport dill\n",
            [
                (1, 8, f"import of 'pickle' is not allowed: {PICKLE}"),
                (
                    2,
                    1,
                    "import of 'marshal' is not allowed: marshal is never used: "
                    "it runs code on load",
                ),
                (3, 8, "import of 'dill' is not allowed: dill is never used: it runs code on load"),
            ],
            id="pickle",
        ),
        pytest.param(
            "x = eval('1 + 1')\n",
            [(1, 5, "'eval' is not allowed: it runs code from a string")],
            id="eval",
        ),
        pytest.param(
            "def f():\n    exec('x = 1')\n",
            [(2, 5, "'exec' is not allowed: it runs code from a string")],
            id="exec",
        ),
        pytest.param(
            "with open('/etc/passwd') as f:\n    pass\n",
            [(1, 6, f"'open' is not allowed: {FILES}")],
            id="open",
        ),
        pytest.param(
            "m = __import__('os')\n",
            [
                (
                    1,
                    5,
                    "'__import__' is not allowed: tasks import modules with import statements only",
                )
            ],
            id="__import__",
        ),
        pytest.param(
            "class T:\n    def f(self, obj):\n        return getattr(obj, 'x')\n",
            [(3, 16, f"'getattr' is not allowed: {DYNAMIC}")],
            id="getattr",
        ),
        pytest.param(
            "setattr(a, 'b', 1)\nf = delattr\n",
            [
                (1, 1, f"'setattr' is not allowed: {DYNAMIC}"),
                (2, 5, f"'delattr' is not allowed: {DYNAMIC}"),
            ],
            id="setattr-delattr",
        ),
        pytest.param(
            "x = ().__class__.__bases__[0].__subclasses__()\n",
            [
                (
                    1,
                    8,
                    f"attribute '__class__' is not allowed: {DUNDER} (use type(x) for the class)",
                ),
                (1, 18, f"attribute '__bases__' is not allowed: {DUNDER}"),
                (1, 31, f"attribute '__subclasses__' is not allowed: {DUNDER}"),
            ],
            id="dunder-escape",
        ),
        pytest.param(
            "def f(g):\n    return g.__globals__['__builtins__']\n",
            [
                (2, 14, f"attribute '__globals__' is not allowed: {DUNDER}"),
                (
                    2,
                    26,
                    "the string '__builtins__' names a forbidden attribute, which pandas and "
                    "numpy can look up by name (as in df.agg('to_csv', path))",
                ),
            ],
            id="globals",
        ),
        pytest.param(
            "b = __builtins__\n",
            [(1, 5, "'__builtins__' is not allowed: dunder names can reach forbidden objects")],
            id="__builtins__",
        ),
        pytest.param(
            "import pandas as pd\n\ndf = pd.read_csv('/data/other.csv')\n",
            [(3, 9, f"'read_csv' is not allowed: {FILES}")],
            id="pd.read_csv",
        ),
        pytest.param(
            "def map(step, df):\n    (df.dropna()\n       .to_csv('/tmp/leak.csv'))\n",
            [(3, 9, f"'to_csv' is not allowed: {FILES}")],
            id="df.to_csv",
        ),
        pytest.param(
            "import numpy as np\nw = np.load('weights.npy')\n",
            [(2, 8, f"'load' is not allowed: {FILES}")],
            id="np.load",
        ),
        pytest.param(
            "import numpy as np\nfrom numpy import savetxt\nv = np.lib.stride_tricks\n",
            [
                (2, 19, f"'savetxt' is not allowed: {FILES}"),
                (3, 8, f"'lib' is not allowed: {FILES}"),
            ],
            id="numpy-io",
        ),
        pytest.param(
            "import pandas.io.common\n",
            [(1, 8, f"import of 'pandas.io.common' is not allowed: 'io' is not allowed: {FILES}")],
            id="pandas.io",
        ),
        pytest.param(
            "s = df.to_string('/tmp/x')\nt = df.to_latex(buf=b)\n",
            [
                (
                    1,
                    8,
                    f"'to_string' with a buf argument writes a file ({FILES}): "
                    "pass only keyword options and use the string it returns",
                ),
                (
                    2,
                    8,
                    f"'to_latex' with a buf argument writes a file ({FILES}): "
                    "pass only keyword options and use the string it returns",
                ),
            ],
            id="to_string-buf",
        ),
        pytest.param(
            "r = df.agg('to_csv', '/tmp/x')\n",
            [
                (
                    1,
                    12,
                    "the string 'to_csv' names a forbidden attribute, which pandas and numpy "
                    "can look up by name (as in df.agg('to_csv', path))",
                )
            ],
            id="string-dispatch",
        ),
        pytest.param(
            "import statistics\nos = statistics.sys.modules['os']\n",
            [
                (
                    2,
                    17,
                    "attribute 'sys' is not allowed: it names a module tasks may not import "
                    "(for a column of that name, use df['sys'])",
                )
            ],
            id="module-attribute",
        ),
        pytest.param(
            "import re\np = re._compiler\n",
            [
                (
                    2,
                    8,
                    "attribute '_compiler' is not allowed: private attributes of other objects "
                    "can reach modules tasks may not import (only self._x and cls._x are allowed)",
                )
            ],
            id="private-attribute",
        ),
        pytest.param(
            "s = '{0.__class__}'.format(x)\n",
            [
                (
                    1,
                    21,
                    "'format' is not allowed here: str.format can read attributes by name; "
                    "use an f-string",
                )
            ],
            id="str.format",
        ),
        pytest.param(
            "from operator import attrgetter\nfrom string import Formatter\n",
            [
                (1, 22, f"'attrgetter' is not allowed: {DYNAMIC}"),
                (2, 20, f"'Formatter' is not allowed: {DYNAMIC}"),
            ],
            id="by-name-lookups",
        ),
        pytest.param(
            "import typing\nh = typing.get_type_hints(f)\n",
            [
                (
                    2,
                    12,
                    "'get_type_hints' is not allowed: it evaluates annotations, "
                    "which can run code from strings",
                )
            ],
            id="get_type_hints",
        ),
        pytest.param(
            "r = df.query('age > 30')\nv = pd.eval('a + b')\n",
            [
                (
                    1,
                    8,
                    "'query' is not allowed: it evaluates a string as code: "
                    "use boolean indexing, e.g. df[df['age'] > 30]",
                ),
                (2, 8, "'eval' is not allowed: it runs code from a string"),
            ],
            id="pandas-eval",
        ),
        pytest.param(
            "match x:\n    case object(__class__=c):\n        pass\n",
            [
                (
                    2,
                    10,
                    f"attribute '__class__' is not allowed: {DUNDER} (use type(x) for the class)",
                )
            ],
            id="match-class",
        ),
        pytest.param(
            "import delta\nfrom delta import debug\ndelta.debug(t, {})\n",
            [
                (
                    2,
                    19,
                    "'delta.debug' is not allowed: it runs on the requester's machine and reads "
                    "files; tasks use delta's task classes (MapReduce, Step, Done)",
                ),
                (
                    3,
                    7,
                    "'delta.debug' is not allowed: it runs on the requester's machine and reads "
                    "files; tasks use delta's task classes (MapReduce, Step, Done)",
                ),
            ],
            id="delta.debug",
        ),
        pytest.param(
            "from numpy import *\n",
            [(1, 19, "'from numpy import *' is not allowed: import the names the task uses")],
            id="star-import",
        ),
        pytest.param(
            "from ..shared import x\n",
            [(1, 1, "relative import 'from ..shared' is not allowed: it leaves the task package")],
            id="relative-outside",
        ),
        pytest.param(
            "input()\nbreakpoint()\nexit(0)\n",
            [
                (1, 1, "'input' is not allowed: tasks run without a debugger or console"),
                (2, 1, "'breakpoint' is not allowed: tasks run without a debugger or console"),
                (3, 1, "'exit' is not allowed: a task ends by returning Done from reduce"),
            ],
            id="console",
        ),
    ],
)
def test_rejects_at_exact_position(source: str, expected: list[tuple[int, int, str]]) -> None:
    assert found(source) == expected


def test_relative_imports_may_reach_the_package_root_only() -> None:
    assert found("from .helpers import clean\nfrom . import stats\n") == []
    assert found("from .. import helpers\n", "sub/mod.py") == []
    assert found("from ... import x\n", "sub/mod.py") == [
        (1, 1, "relative import 'from ...' is not allowed: it leaves the task package")
    ]


def test_safe_spellings_pass() -> None:
    source = """
        import pandas as pd
        from typing import NamedTuple

        class P(NamedTuple):
            x: int

        class T:
            def f(self, df: pd.DataFrame) -> str:
                p = P(1)._replace(x=2)
                self._seen = p._asdict()
                return df.to_string(index=False, max_rows=5) + "{} {n}".format(1, n=2)

            def __eq__(self, other: object) -> bool:
                return type(other) is type(self) and super().__eq__(other)
    """
    assert found(source) == []


def test_columns_count_characters_not_bytes() -> None:
    assert found('label = "âge"; x = eval("1")\n') == [
        (1, 20, "'eval' is not allowed: it runs code from a string")
    ]


def test_syntax_error_is_a_violation_at_its_line() -> None:
    assert found("x = 1\n\ndef f(:\n    pass\n") == [(3, 7, "syntax error: invalid syntax")]


def test_null_byte_is_a_violation_not_an_exception() -> None:
    [violation] = check_source("x = 1\0\n", "task.py")
    assert violation.line == 1
    assert violation.filename == "task.py"


def test_all_violations_are_reported_in_order() -> None:
    source = """
        import pandas as pd
        import os

        def map(step, df):
            extra = pd.read_csv("/etc/passwd")
            return eval("df"), getattr(df, "x"), open("y")
    """
    assert found(source) == [
        (3, 8, f"import of 'os' is not allowed: {ALLOWED}"),
        (6, 16, f"'read_csv' is not allowed: {FILES}"),
        (7, 12, "'eval' is not allowed: it runs code from a string"),
        (7, 24, f"'getattr' is not allowed: {DYNAMIC}"),
        (7, 42, f"'open' is not allowed: {FILES}"),
    ]


def test_violation_prints_as_file_line_column_reason() -> None:
    assert str(Violation("task.py", 3, 7, "no")) == "task.py:3:7: no"


def test_check_or_raise_lists_every_file_in_order() -> None:
    sources = {"task.py": "import os\nx = eval('1')\n", "a/helpers.py": "import socket\n"}
    with pytest.raises(TaskRejected) as caught:
        check_or_raise(sources)
    assert [str(v) for v in caught.value.violations] == [
        f"a/helpers.py:1:8: import of 'socket' is not allowed: {ALLOWED}",
        f"task.py:1:8: import of 'os' is not allowed: {ALLOWED}",
        "task.py:2:5: 'eval' is not allowed: it runs code from a string",
    ]
    assert str(caught.value).splitlines() == [
        "the task was rejected by the static check (3 problems)",
        *(str(v) for v in caught.value.violations),
    ]


def test_check_or_raise_accepts_clean_sources() -> None:
    check_or_raise({"task.py": "import math\nx = math.sqrt(2)\n"})
