"""`delta.package`: a task packs to canonical bytes whose hash is its
commitment, and a member loads only a well-formed package that matches it
and passes the static check."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import linecache
import sys
import textwrap
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from delta.check import TaskRejected
from delta.package import (
    FORMAT,
    MAX_FILES,
    MAX_TOTAL_BYTES,
    PackageError,
    TaskPackage,
    load_package,
    package_task,
)

TASK = '''\
"""A small task without third-party imports."""

import math
from fractions import Fraction

from .helpers import square


class Mean:
    dataset = "patients"
    max_rounds = 3

    def start(self) -> str:
        return "mean"

    def value(self, x: float) -> float:
        return math.sqrt(square(x)) + float(Fraction(1, 2))
'''

HELPERS = "def square(x: float) -> float:\n    return x * x\n"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def import_task(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], types.ModuleType]]:
    """Imports a task file written by `write_task` the way an author does
    (`from mypackage.mean_task import Mean`), and forgets it afterwards."""

    def load(path: Path) -> types.ModuleType:
        monkeypatch.syspath_prepend(str(path.parent.parent))
        name = f"{path.parent.name}.{path.stem}"
        return importlib.import_module(name)

    yield load
    for name in [n for n in sys.modules if n.startswith("delta_test_")]:
        del sys.modules[name]


def write_task(parent: Path, source: str = TASK) -> Path:
    """`parent/delta_test_<unique>/mean_task.py`, next to `helpers.py`, in
    a package so its relative import runs."""
    folder = parent / f"delta_test_{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "helpers.py").write_text(HELPERS)
    path = folder / "mean_task.py"
    path.write_bytes(source.encode("utf-8"))
    return path


def make(sources: dict[str, str], /, **manifest: Any) -> bytes:
    """A canonical package of `sources`, with manifest fields overridden."""
    base: dict[str, Any] = {
        "format": FORMAT,
        "kind": "statistics",
        "entrypoint": {"file": "task.py", "class": "Task"},
        "dataset": "patients",
        "max_rounds": 3,
        "sdk": "0.1.0",
        "files": {name: sha256(text) for name, text in sources.items()},
    }
    base.update(manifest)
    return TaskPackage(manifest=base, files=sources).to_bytes()


GOOD = {"task.py": "import math\n\n\nclass Task:\n    dataset = 'patients'\n"}


# -- packaging ----------------------------------------------------------------


def test_package_task_collects_sources_and_manifest(
    tmp_path: Path, import_task: Callable[[Path], types.ModuleType]
) -> None:
    module = import_task(write_task(tmp_path))
    package = package_task(module.Mean, extra_files=["helpers.py"])
    assert package.files == {"helpers.py": HELPERS, "mean_task.py": TASK}
    assert package.manifest == {
        "format": "delta-task/1",
        "members_run": "code",
        "kind": "statistics",
        "entrypoint": {"file": "mean_task.py", "class": "Mean"},
        "dataset": "patients",
        "max_rounds": 3,
        "sdk": "0.1.0",
        "files": {"helpers.py": sha256(HELPERS), "mean_task.py": sha256(TASK)},
    }
    assert len(package.digest()) == 32
    assert package.hexdigest() == hashlib.sha256(package.to_bytes()).hexdigest()


def test_same_task_packs_to_same_bytes_from_any_folder_and_line_endings(
    tmp_path: Path, import_task: Callable[[Path], types.ModuleType]
) -> None:
    first = write_task(tmp_path / "alice")
    windows = "\ufeff" + TASK.replace("\n", "\r\n")
    second = write_task(tmp_path / "bob" / "checkout", windows)
    a = package_task(import_task(first).Mean, extra_files=["helpers.py"])
    b = package_task(import_task(second).Mean, extra_files=[second.parent / "helpers.py"])
    assert a.to_bytes() == b.to_bytes()
    assert a.digest() == b.digest()
    assert a.to_bytes() == package_task(import_task(first).Mean, ["helpers.py"]).to_bytes()
    assert str(tmp_path).encode() not in a.to_bytes()


def test_encoding_and_digest_are_pinned() -> None:
    """The commitment must not drift between SDK versions or machines."""
    text = 'import math\n\n\nclass Task:\n    dataset = "âges"\n'
    assert sha256(text) == "d56f72965972fe94f6d87bcd403c67df4e2cdbc953886ba780c8111dbab064ba"
    package = TaskPackage(
        manifest={
            "sdk": "0.1.0",
            "format": "delta-task/1",
            "kind": "statistics",
            "entrypoint": {"file": "task.py", "class": "Task"},
            "dataset": "âges",
            "max_rounds": 3,
            "files": {"task.py": sha256(text)},
        },
        files={"task.py": text},
    )
    expected = (
        '{"files":{"task.py":"import math\\n\\n\\nclass Task:\\n    dataset = \\"âges\\"\\n"},'
        '"manifest":{"dataset":"âges","entrypoint":{"class":"Task","file":"task.py"},'
        '"files":{"task.py":"d56f72965972fe94f6d87bcd403c67df4e2cdbc953886ba780c8111dbab064ba"},'
        '"format":"delta-task/1","kind":"statistics","max_rounds":3,"sdk":"0.1.0"}}'
    ).encode()
    assert package.to_bytes() == expected
    assert package.hexdigest() == "b9ce4429e85f581f9b3f40679750ee485d87e6d8753b49a3591abaac4f13e7e4"


def test_package_task_runs_the_static_check(
    tmp_path: Path, import_task: Callable[[Path], types.ModuleType]
) -> None:
    bad = TASK.replace("import math\n", "import math\nimport os\n")
    module = import_task(write_task(tmp_path, bad))
    with pytest.raises(TaskRejected) as caught:
        package_task(module.Mean)
    [violation] = caught.value.violations
    assert (violation.filename, violation.line, violation.column) == ("mean_task.py", 4, 8)
    assert violation.reason.startswith("import of 'os' is not allowed: tasks may use numpy")


def test_package_task_refuses_files_outside_the_task_folder(
    tmp_path: Path, import_task: Callable[[Path], types.ModuleType]
) -> None:
    module = import_task(write_task(tmp_path))
    (tmp_path / "elsewhere.py").write_text("x = 1\n")
    with pytest.raises(PackageError, match="helper modules must sit in the task's folder"):
        package_task(module.Mean, extra_files=["../elsewhere.py"])


def test_package_task_refuses_non_python_files(
    tmp_path: Path, import_task: Callable[[Path], types.ModuleType]
) -> None:
    module = import_task(write_task(tmp_path))
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(PackageError, match=r"file 'notes.txt' is not a Python source file \(.py\)"):
        package_task(module.Mean, extra_files=["notes.txt"])


def test_package_task_refuses_classes_defined_in_functions() -> None:
    class Local:
        dataset = "patients"

    with pytest.raises(PackageError, match="define it at module level"):
        package_task(Local)


def test_notebook_class_is_stored_as_task_py_with_its_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a notebook the class's module has no file; its cell is in
    linecache, and the modules it names come from the session's globals."""
    cell = textwrap.dedent(
        """\
        value = 3

        class Cell:
            dataset = "patients"

            def start(self):
                return math.sqrt(float(F(1, 4)))
        """
    )
    filename = "<ipython-input-7-abc>"
    monkeypatch.setitem(
        linecache.cache, filename, (len(cell), None, cell.splitlines(True), filename)
    )
    # A kernel's `__main__` has no `__file__`: inspect raises OSError for its classes.
    session = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, session.__name__, session)
    import math
    from fractions import Fraction

    session.__dict__.update(math=math, F=Fraction)
    exec(compile(cell, filename, "exec"), session.__dict__)

    package = package_task(session.Cell)
    assert package.manifest["entrypoint"] == {"file": "task.py", "class": "Cell"}
    assert package.files == {
        "task.py": "from fractions import Fraction as F\nimport math\n\n\n"
        "class Cell:\n"
        '    dataset = "patients"\n\n'
        "    def start(self):\n"
        "        return math.sqrt(float(F(1, 4)))\n"
    }


def test_realistic_map_reduce_task_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numpy")
    pytest.importorskip("pandas")
    source = textwrap.dedent(
        '''\
        """Mean age."""

        from collections.abc import Mapping

        import numpy as np
        import pandas as pd

        import delta


        class MeanAge(delta.MapReduce):
            dataset = "patients"

            def __init__(self) -> None:
                super().__init__()

            def start(self) -> delta.Step:
                return delta.Step("mean", {"sum": 1, "n": 1})

            def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
                return {"sum": np.array([df["age"].sum()]), "n": np.array([len(df)])}

            def reduce(self, step, sums, members):
                return delta.Done(float(sums["sum"][0] / sums["n"][0]))
        '''
    )
    path = tmp_path / "mean_age.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("delta_test_mean_age", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "delta_test_mean_age", module)
    spec.loader.exec_module(module)

    package = package_task(module.MeanAge)
    assert package.manifest["entrypoint"] == {"file": "mean_age.py", "class": "MeanAge"}
    assert package.manifest["dataset"] == "patients"
    assert package.manifest["max_rounds"] == module.MeanAge.max_rounds
    assert load_package(package.to_bytes(), package.digest()) == package


# -- loading ------------------------------------------------------------------


def test_load_package_round_trips(
    tmp_path: Path, import_task: Callable[[Path], types.ModuleType]
) -> None:
    module = import_task(write_task(tmp_path))
    package = package_task(module.Mean, extra_files=["helpers.py"], kind="regression")
    loaded = load_package(package.to_bytes(), expected_digest=package.digest())
    assert loaded == package
    assert loaded.manifest["kind"] == "regression"
    assert load_package(make(GOOD)).files == GOOD


def test_load_refuses_a_package_that_does_not_match_its_commitment() -> None:
    other = make(GOOD, max_rounds=4)
    with pytest.raises(PackageError, match="^the package does not match its commitment$"):
        load_package(make(GOOD), expected_digest=hashlib.sha256(other).digest())


def test_load_refuses_a_commitment_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        load_package(make(GOOD), expected_digest=b"short")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            b'{"files":{},"manifest":\xff}', "the package is not UTF-8 text (byte 23)", id="utf8"
        ),
        pytest.param(b'{"files":', "the package is not a JSON document: ", id="json"),
        pytest.param(
            b"[1, 2]", "the package must be a JSON object with 'manifest' and 'files'", id="array"
        ),
        pytest.param(b'{"files":{}}', "the package has no 'manifest'", id="no-manifest"),
        pytest.param(b'{"manifest":{}}', "the package has no 'files'", id="no-files"),
        pytest.param(
            b'{"files":{},"files":{},"manifest":{}}',
            "the package is not a JSON document: duplicate key 'files'",
            id="duplicate-key",
        ),
        pytest.param(
            b'{"files":{},"manifest":{"max_rounds":NaN}}',
            "the package is not a JSON document: NaN is not JSON",
            id="nan",
        ),
    ],
)
def test_load_refuses_malformed_documents(data: bytes, message: str) -> None:
    with pytest.raises(PackageError) as caught:
        load_package(data)
    assert str(caught.value).startswith(message)


def test_load_refuses_a_wrong_format_tag() -> None:
    with pytest.raises(PackageError) as caught:
        load_package(make(GOOD, format="delta-task/2"))
    assert (
        str(caught.value)
        == "unsupported package format 'delta-task/2': this SDK reads 'delta-task/1'"
    )


def test_load_refuses_missing_manifest_keys() -> None:
    document = json.loads(make(GOOD))
    del document["manifest"]["kind"]
    del document["manifest"]["dataset"]
    data = TaskPackage(document["manifest"], document["files"]).to_bytes()
    with pytest.raises(PackageError) as caught:
        load_package(data)
    assert str(caught.value) == "the manifest is missing 'dataset', 'kind'"


def test_load_refuses_unknown_manifest_keys() -> None:
    with pytest.raises(PackageError) as caught:
        load_package(make(GOOD, created="2024-01-01"))
    assert str(caught.value) == "the manifest has unknown keys 'created'"


def test_load_refuses_a_file_that_does_not_match_its_hash() -> None:
    tampered = {"task.py": GOOD["task.py"] + "x = 1\n"}
    data = make(tampered, files={"task.py": sha256(GOOD["task.py"])})
    with pytest.raises(PackageError) as caught:
        load_package(data)
    assert str(caught.value) == "file task.py does not match its hash in the manifest"


def test_load_refuses_files_missing_from_or_absent_in_the_manifest() -> None:
    extra = {**GOOD, "helpers.py": "x = 1\n"}
    with pytest.raises(PackageError) as caught:
        load_package(make(extra, files={"task.py": sha256(GOOD["task.py"])}))
    assert str(caught.value) == "file helpers.py is not listed in the manifest"
    listed = {"task.py": sha256(GOOD["task.py"]), "helpers.py": sha256("x = 1\n")}
    with pytest.raises(PackageError) as caught:
        load_package(make(GOOD, files=listed))
    assert str(caught.value) == "the manifest lists helpers.py but the package does not hold it"


def test_load_refuses_a_missing_entrypoint_file() -> None:
    with pytest.raises(PackageError) as caught:
        load_package(make(GOOD, entrypoint={"file": "main.py", "class": "Task"}))
    assert str(caught.value) == "the entrypoint file main.py is not in the package"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/task.py", "file path '/etc/task.py' is absolute: paths are relative to the package"),
        ("C:/task.py", "file path 'C:/task.py' is absolute: paths are relative to the package"),
        ("../task.py", "file path '../task.py' contains '..': files must stay in the package"),
        (
            "a/../../task.py",
            "file path 'a/../../task.py' contains '..': files must stay in the package",
        ),
        ("a\\task.py", "file path 'a\\\\task.py' contains a backslash: use '/'"),
        ("a//task.py", "file path 'a//task.py' is not normalised (empty or '.' part)"),
        ("task.sh", "file 'task.sh' is not a Python source file (.py)"),
    ],
)
def test_load_refuses_unsafe_paths(path: str, message: str) -> None:
    files = {**GOOD, path: "x = 1\n"}
    with pytest.raises(PackageError) as caught:
        load_package(make(files))
    assert str(caught.value) == message


def test_load_refuses_paths_differing_only_in_case() -> None:
    files = {**GOOD, "Helpers.py": "x = 1\n", "helpers.py": "y = 1\n"}
    with pytest.raises(PackageError) as caught:
        load_package(make(files))
    assert str(caught.value) == "files 'Helpers.py' and 'helpers.py' differ only in case"


def test_load_refuses_too_many_files() -> None:
    files = {**GOOD, **{f"m{i:02}.py": f"x = {i}\n" for i in range(MAX_FILES)}}
    with pytest.raises(PackageError) as caught:
        load_package(make(files))
    assert str(caught.value) == "the package has 65 files, more than the limit of 64"


def test_load_refuses_more_than_4_mib() -> None:
    room = MAX_TOTAL_BYTES - len(GOOD["task.py"].encode())
    exactly = {**GOOD, "big.py": "#" + "x" * (room - 2) + "\n"}
    assert load_package(make(exactly)).files == exactly
    over = {**GOOD, "big.py": "#" + "x" * (room - 1) + "\n"}
    with pytest.raises(PackageError) as caught:
        load_package(make(over))
    assert str(caught.value) == (
        "the package's files hold 4194305 bytes, more than the limit of 4194304 (4 MiB)"
    )


def test_load_refuses_a_non_canonical_encoding() -> None:
    document = json.loads(make(GOOD))
    data = json.dumps(document, indent=2).encode()
    with pytest.raises(PackageError, match="not in canonical form"):
        load_package(data)


def test_load_runs_the_static_check() -> None:
    files = {"task.py": "import math\nimport socket\n\n\nclass Task:\n    pass\n"}
    with pytest.raises(TaskRejected) as caught:
        load_package(make(files))
    assert [(v.filename, v.line, v.column) for v in caught.value.violations] == [("task.py", 2, 8)]


def test_load_never_unpickles() -> None:
    import pickle

    with pytest.raises(PackageError, match="not UTF-8|not a JSON document"):
        load_package(pickle.dumps({"manifest": {}, "files": {}}))
