"""`delta.package`: a task as it travels to data holders.

A package is the task's Python source files plus a manifest (format, kind,
entrypoint class, dataset, rounds, SDK version, and the SHA-256 of each
file). It is never a pickle: a data holder receives text it can read, check
statically (`delta.check`) and hash, and nothing runs on load.

The chain stores the package's commitment, the SHA-256 of its canonical
encoding (`TaskPackage.to_bytes`), and a member refuses a package whose
bytes do not match it. The encoding is therefore defined byte for byte so
that any machine, and any language, reproduces it:

- one JSON object `{"files": {path: source}, "manifest": {...}}`;
- object keys sorted by code point, no insignificant whitespace
  (separators `,` and `:`), non-ASCII characters written as UTF-8 rather
  than escaped; `"`, `\\`, and control characters escaped as JSON requires
  (`\\n`, `\\t`, ... and `\\u00XX` in lower-case hex for the others);
- sources with `\\n` line endings and no byte-order mark;
- no timestamps, no paths from the author's machine.

Example:

    >>> from delta.package import package_task, load_package
    >>> package = package_task(MeanAge, kind="statistics")  # doctest: +SKIP
    >>> package.hexdigest()  # doctest: +SKIP
    '3f1c...'
    >>> load_package(package.to_bytes(), expected_digest=package.digest())  # doctest: +SKIP
"""

from __future__ import annotations
import __future__

import ast
import hashlib
import hmac
import inspect
import json
import linecache
import re
import sys
import textwrap
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .check import check_or_raise
from .mapreduce import MapReduce

__all__ = [
    "FORMAT",
    "MEMBERS_RUN",
    "MAX_FILES",
    "MAX_TOTAL_BYTES",
    "SDK_VERSION",
    "PackageError",
    "TaskPackage",
    "load_package",
    "package_for",
    "package_task",
    "with_levels",
]

FORMAT = "delta-task/1"
"""The manifest's format tag; a reader refuses any other."""

SDK_VERSION = "0.1.0"

MAX_FILES = 64
"""Files in one package: a task is a few modules, not a project."""

MAX_TOTAL_BYTES = 4 * 1024 * 1024
"""UTF-8 bytes of all files together (4 MiB)."""

MAX_PACKAGE_BYTES = 6 * MAX_TOTAL_BYTES + 1024 * 1024
"""Encoded package: JSON escaping can grow a source byte to six (`\\u0001`),
plus room for the manifest. Larger input is refused before it is parsed."""

NOTEBOOK_FILE = "task.py"
"""The file a task class defined in a notebook or interactive session is
stored as."""

_MANIFEST_KEYS = frozenset(
    {"format", "kind", "entrypoint", "dataset", "max_rounds", "sdk", "files"}
)
_OPTIONAL_KEYS = frozenset({"members_run", "levels"})
MAX_LEVEL_COLUMNS = 1024
MAX_LEVELS = 65536
"""Bounds on a manifest's `levels`: columns, and levels per column."""
MEMBERS_RUN = ("plan", "code")
"""What members run for a package (its manifest's `members_run`):
`"plan"` for a `delta.Analytics` task, whose steps members evaluate with
their own SDK without importing the package; `"code"` (also when absent)
for any other, whose `map` is the package's code and which a holder runs
only with its consent (its policy's `code_requesters`, or an approval of
the package's hash)."""
_ENTRYPOINT_KEYS = frozenset({"file", "class"})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_QUALNAME = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:")


class PackageError(Exception):
    """A task cannot be packaged, or received bytes are not a valid
    package; the message says which part is wrong."""


@dataclass(frozen=True)
class TaskPackage:
    """A task's manifest and files (path inside the package -> source).

    Build one with `package_task` (requester) or `load_package` (data
    holder); both check the sources statically before returning.
    """

    manifest: dict[str, Any]
    files: dict[str, str]

    def datasets(self) -> list[str]:
        """The dataset names the manifest gives the task (none, one or a
        list)."""
        named = self.manifest.get("dataset")
        return [named] if isinstance(named, str) else list(named or [])

    def to_bytes(self) -> bytes:
        """The canonical encoding (see the module docs): identical bytes for
        identical content on any machine, so its hash can be committed."""
        document = {"files": self.files, "manifest": self.manifest}
        text = json.dumps(
            document,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return text.encode("utf-8")

    def digest(self) -> bytes:
        """The package's commitment: SHA-256 of `to_bytes()`, 32 bytes."""
        return hashlib.sha256(self.to_bytes()).digest()

    def hexdigest(self) -> str:
        """`digest()` in lower-case hex, as shown to people and in logs."""
        return self.digest().hex()


def package_task(
    task_class: type,
    extra_files: Sequence[str | Path] = (),
    kind: str | None = None,
) -> TaskPackage:
    """Packages `task_class` with the file that defines it and `extra_files`
    (helper modules the task imports with `from .helpers import ...`).

    Extra files given as relative paths are found next to the task's file
    and keep their relative path in the package; they must be `.py` files
    inside that folder, so that the package looks the same on every member.
    A class defined in a notebook or an interactive session has no file: its
    source is stored as `task.py`, after the imports of the modules and
    classes it names, and relative extra files are found in the current
    folder.

    Raises `PackageError` when the class or a file cannot be packaged, and
    `delta.check.TaskRejected` when the sources fail the static check that
    every member runs, so the author sees the same reasons first.

    Example:

        >>> package = package_task(MeanAge, extra_files=["helpers.py"])  # doctest: +SKIP
    """
    if not isinstance(task_class, type):
        raise TypeError(f"package_task takes the task class, not {type(task_class).__name__}")
    qualname = task_class.__qualname__
    if not _QUALNAME.fullmatch(qualname):
        raise PackageError(
            f"task class {qualname} is defined inside a function: define it at module level "
            "so members can load it"
        )
    if kind is None:
        kind = getattr(task_class, "task_kind", "statistics")
    if not isinstance(kind, str) or not kind:
        raise PackageError("kind must be a non-empty string such as 'statistics'")

    entry, source, root = _entry_source(task_class)
    files = {entry: source}
    for extra in extra_files:
        name, text = _extra_file(Path(extra), root)
        if name in files:
            if files[name] == text:
                continue
            raise PackageError(f"extra file {name} is listed twice")
        files[name] = text
    _check_files(files)

    from .analytics import Analytics

    manifest: dict[str, Any] = {
        "format": FORMAT,
        "members_run": "plan" if issubclass(task_class, Analytics) else "code",
        "kind": kind,
        "entrypoint": {"file": entry, "class": qualname},
        "dataset": _dataset(getattr(task_class, "dataset", None)),
        "max_rounds": _max_rounds(getattr(task_class, "max_rounds", None)),
        "sdk": SDK_VERSION,
        "files": {name: _sha256(text) for name, text in sorted(files.items())},
    }
    check_or_raise(files)
    return TaskPackage(manifest=manifest, files=dict(sorted(files.items())))


def package_for(
    task: Any, extra_files: Sequence[str | Path] = (), kind: str | None = None
) -> TaskPackage:
    """The package that travels for `task`, as `delta.Client.submit` and
    `delta.debug` take it: a `TaskPackage` as it is; a `MapReduce` or
    `Analytics` subclass, or an instance of one, through `package_task`
    (an instance's class is what travels: every process that runs the task
    creates its own instance with no arguments).

    Example:

        >>> package = package_for(MeanAge())  # doctest: +SKIP
    """
    if isinstance(task, TaskPackage):
        return task
    if isinstance(task, type) and issubclass(task, MapReduce):
        return package_task(task, extra_files=extra_files, kind=kind)
    if isinstance(task, MapReduce):
        return package_task(type(task), extra_files=extra_files, kind=kind)
    raise TypeError(
        "a task is a MapReduce or Analytics subclass, an instance of one, or a TaskPackage, "
        f"not {type(task).__name__}"
    )


def load_package(data: bytes, expected_digest: bytes | None = None) -> TaskPackage:
    """Reads a package a member received, refusing anything that is not
    exactly a well-formed package: the commitment, the encoding, the
    manifest, every file's hash, the file paths and sizes, and finally the
    static check of the sources (`delta.check.TaskRejected`).

    `expected_digest` is the commitment from the ledger; a member always
    passes it. Only JSON parsing and hashing touch the bytes: nothing in
    them runs.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load_package takes bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_PACKAGE_BYTES:
        raise PackageError(
            f"the package is {len(data)} bytes, more than the limit of {MAX_PACKAGE_BYTES}"
        )
    if expected_digest is not None:
        if len(expected_digest) != 32:
            raise ValueError("expected_digest must be a 32-byte SHA-256 digest")
        if not hmac.compare_digest(hashlib.sha256(data).digest(), bytes(expected_digest)):
            raise PackageError("the package does not match its commitment")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackageError(f"the package is not UTF-8 text (byte {exc.start})") from exc
    try:
        document = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant
        )
    except (json.JSONDecodeError, _Malformed, RecursionError) as exc:
        raise PackageError(f"the package is not a JSON document: {exc}") from exc

    if not isinstance(document, dict):
        raise PackageError("the package must be a JSON object with 'manifest' and 'files'")
    for key in ("manifest", "files"):
        if key not in document:
            raise PackageError(f"the package has no '{key}'")
    unknown = sorted(set(document) - {"manifest", "files"})
    if unknown:
        raise PackageError(f"the package has unknown keys: {', '.join(unknown)}")
    manifest = document["manifest"]
    files = document["files"]
    if not isinstance(manifest, dict):
        raise PackageError("the package's 'manifest' must be a JSON object")
    _check_manifest(manifest)
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise PackageError("the package's 'files' must map paths to source text")
    _check_files(files)

    listed: dict[str, str] = manifest["files"]
    absent = sorted(set(listed) - set(files))
    if absent:
        raise PackageError(f"the manifest lists {absent[0]} but the package does not hold it")
    unlisted = sorted(set(files) - set(listed))
    if unlisted:
        raise PackageError(f"file {unlisted[0]} is not listed in the manifest")
    for name in sorted(files):
        if not hmac.compare_digest(_sha256(files[name]), listed[name]):
            raise PackageError(f"file {name} does not match its hash in the manifest")
    entry = manifest["entrypoint"]["file"]
    if entry not in files:
        raise PackageError(f"the entrypoint file {entry} is not in the package")

    package = TaskPackage(manifest=manifest, files=files)
    if package.to_bytes() != data:
        raise PackageError(
            "the package is not in canonical form (sorted keys, no whitespace, UTF-8): "
            "encode it with TaskPackage.to_bytes"
        )
    check_or_raise(files)
    return package


# -- reading a package ------------------------------------------------------


class _Malformed(ValueError):
    """JSON that `json` accepts but a package may not hold."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects with a repeated key are ambiguous: refuse them."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Malformed(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    """`NaN` and `Infinity` are not JSON."""
    raise _Malformed(f"{name} is not JSON")


def _check_manifest(manifest: Mapping[str, Any]) -> None:
    """The manifest's format tag, keys and value types."""
    tag = manifest.get("format")
    if tag != FORMAT:
        raise PackageError(f"unsupported package format {tag!r}: this SDK reads {FORMAT!r}")
    missing = sorted(_MANIFEST_KEYS - set(manifest))
    if missing:
        raise PackageError(f"the manifest is missing {', '.join(repr(k) for k in missing)}")
    unknown = sorted(set(manifest) - _MANIFEST_KEYS - _OPTIONAL_KEYS)
    if unknown:
        raise PackageError(f"the manifest has unknown keys {', '.join(repr(k) for k in unknown)}")
    if not isinstance(manifest["kind"], str) or not manifest["kind"]:
        raise PackageError("the manifest's 'kind' must be a non-empty string")
    if manifest.get("members_run", "code") not in MEMBERS_RUN:
        raise PackageError("the manifest's 'members_run' must be 'plan' or 'code'")
    if not isinstance(manifest["sdk"], str):
        raise PackageError("the manifest's 'sdk' must be a string")
    entry = manifest["entrypoint"]
    if not isinstance(entry, dict) or set(entry) != _ENTRYPOINT_KEYS:
        raise PackageError("the manifest's 'entrypoint' must hold exactly 'file' and 'class'")
    if not isinstance(entry["file"], str):
        raise PackageError("the manifest's entrypoint 'file' must be a path")
    if not isinstance(entry["class"], str) or not _QUALNAME.fullmatch(entry["class"]):
        raise PackageError("the manifest's entrypoint 'class' must be a class name")
    try:
        _dataset(manifest["dataset"])
        _max_rounds(manifest["max_rounds"])
    except PackageError as exc:
        raise PackageError(f"the manifest's {exc}") from None
    if "levels" in manifest:
        _check_levels(manifest["levels"])
    hashes = manifest["files"]
    if not isinstance(hashes, dict):
        raise PackageError("the manifest's 'files' must map paths to SHA-256 hashes")
    for name, digest in hashes.items():
        if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
            raise PackageError(f"the manifest's hash of {name} is not lower-case SHA-256 hex")


def _check_levels(levels: Any) -> None:
    if not isinstance(levels, dict) or len(levels) > MAX_LEVEL_COLUMNS:
        raise PackageError(
            f"the manifest's 'levels' must map at most {MAX_LEVEL_COLUMNS} column names to lists"
        )
    for name, values in levels.items():
        if not isinstance(values, list) or not 0 < len(values) <= MAX_LEVELS:
            raise PackageError(
                f"the manifest's levels of {name!r} must be a list of 1 to {MAX_LEVELS} values"
            )
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise PackageError(
                f"the manifest's levels of {name!r} must be strings, numbers or booleans"
            )


def with_levels(package: TaskPackage, levels: Mapping[str, Sequence[Any]]) -> TaskPackage:
    """`package` carrying `levels` (column -> category levels) in its
    manifest: the holders' published levels of the task's dataset, which
    an analytics task uses for every key it does not declare itself. The
    package's digest changes with them."""
    manifest = {**package.manifest, "levels": {str(k): list(v) for k, v in levels.items()}}
    _check_levels(manifest["levels"])
    return TaskPackage(manifest=manifest, files=dict(package.files))


# -- both directions ----------------------------------------------------------


def _check_path(name: str) -> None:
    """A file path as every member can write it inside a fresh folder:
    relative, `/`-separated, no `..`, a `.py` module."""
    if not name:
        raise PackageError("a file path is empty")
    if "\\" in name:
        raise PackageError(f"file path {name!r} contains a backslash: use '/'")
    if name.startswith("/") or _WINDOWS_DRIVE.match(name):
        raise PackageError(f"file path {name!r} is absolute: paths are relative to the package")
    parts = name.split("/")
    if ".." in parts:
        raise PackageError(f"file path {name!r} contains '..': files must stay in the package")
    if any(part in ("", ".") for part in parts):
        raise PackageError(f"file path {name!r} is not normalised (empty or '.' part)")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in name):
        raise PackageError(f"file path {name!r} contains a control character")
    if not name.endswith(".py"):
        raise PackageError(f"file {name!r} is not a Python source file (.py)")


def _check_files(files: Mapping[str, str]) -> None:
    """Paths, file count and total size, the same when packaging and when
    loading, so a package that packs also loads."""
    if len(files) > MAX_FILES:
        raise PackageError(
            f"the package has {len(files)} files, more than the limit of {MAX_FILES}"
        )
    folded: dict[str, str] = {}
    total = 0
    for name in sorted(files):
        _check_path(name)
        other = folded.setdefault(name.casefold(), name)
        if other != name:
            raise PackageError(f"files {other!r} and {name!r} differ only in case")
        total += len(_utf8(files[name], name))
    if total > MAX_TOTAL_BYTES:
        raise PackageError(
            f"the package's files hold {total} bytes, more than the limit of "
            f"{MAX_TOTAL_BYTES} (4 MiB)"
        )


def _dataset(value: Any) -> str | list[str] | None:
    """The task's dataset name(s), as the manifest holds them."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise PackageError("'dataset' must be a dataset name, a list of names, or None")


def _max_rounds(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise PackageError("'max_rounds' must be a positive integer or None")


def _utf8(text: str, name: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PackageError(f"file {name} is not valid Unicode text") from exc


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- packaging ----------------------------------------------------------------


def _normalise(text: str) -> str:
    """`\\n` line endings and no byte-order mark, so a checkout on Windows
    packs to the same bytes as one on Linux."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _read_source(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return _normalise(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PackageError(f"{path} is not UTF-8 text (byte {exc.start})") from exc


def _extra_file(path: Path, root: Path) -> tuple[str, str]:
    """An extra file's path inside the package and its source."""
    full = (path if path.is_absolute() else root / path).resolve()
    try:
        relative = full.relative_to(root.resolve())
    except ValueError:
        raise PackageError(
            f"extra file {path} is outside {root}: helper modules must sit in the task's folder"
        ) from None
    name = relative.as_posix()
    _check_path(name)
    return name, _read_source(full)


def _entry_source(task_class: type) -> tuple[str, str, Path]:
    """The path inside the package, source and folder of the file that
    defines `task_class`; for a class without a file (notebook, REPL), its
    own source under `task.py` and the current folder."""
    try:
        source_file = inspect.getsourcefile(task_class)
    except (OSError, TypeError):  # OSError: a kernel's `__main__`, which has no file
        source_file = None
    if source_file is not None and Path(source_file).is_file():
        path = Path(source_file).resolve()
        return path.name, _read_source(path), path.parent

    source = _class_source(task_class)
    if source is None:
        raise PackageError(
            f"cannot find the source of {task_class.__qualname__}: save the class in a .py "
            "file and import it from there"
        )
    module = sys.modules.get(task_class.__module__)
    namespace = vars(module) if module is not None else {}
    header = _imports_for(source, namespace, task_class.__module__)
    text = "\n".join(header) + "\n\n\n" + source if header else source
    return NOTEBOOK_FILE, _normalise(text), Path.cwd()


def _class_source(task_class: type) -> str | None:
    """A class's source when its module has no file.

    `inspect.getsource` finds it where the interpreter records where
    classes start (Python 3.13); otherwise the class is found in the cell
    that defined its methods, which notebooks keep in `linecache`.
    """
    try:
        return textwrap.dedent(inspect.getsource(task_class))
    except (OSError, TypeError):
        pass
    for code in _method_code(task_class):
        lines = linecache.getlines(code.co_filename)
        if not lines:
            continue
        cell = "".join(lines)
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ClassDef)
                and node.name == task_class.__name__
                and node.end_lineno is not None
            ):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if first <= code.co_firstlineno <= node.end_lineno:
                    return textwrap.dedent("".join(lines[first - 1 : node.end_lineno]))
    return None


def _method_code(task_class: type) -> Iterator[types.CodeType]:
    """Code objects of the functions defined in the class body."""
    for value in vars(task_class).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if isinstance(value, types.FunctionType):
            yield value.__code__


def _imports_for(source: str, namespace: Mapping[str, Any], own_module: str) -> list[str]:
    """Import lines for the modules, classes and functions a notebook class
    names from the session's globals (`np`, `MapReduce`), so that `task.py`
    runs on its own. Other globals cannot be carried; the static check and
    a local debug run show what is missing."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)})
    future: list[str] = []
    lines: list[str] = []
    for name in names:
        value = namespace.get(name)
        if isinstance(value, types.ModuleType):
            module = value.__name__
            lines.append(f"import {module}" if module == name else f"import {module} as {name}")
            continue
        if not isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
            continue
        owner = getattr(value, "__module__", None)
        qual = getattr(value, "__qualname__", None)
        if not isinstance(owner, str) or not isinstance(qual, str):
            continue
        if owner in (own_module, "builtins") or "." in qual:
            continue
        lines.append(f"from {owner} import {qual}" + ("" if qual == name else f" as {name}"))
    if namespace.get("annotations") is __future__.annotations:
        future.append("from __future__ import annotations")
    return future + sorted(lines)
