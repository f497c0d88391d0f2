"""`delta.check`: the static check a data holder runs on a task's source
before running it.

Task code runs in a sandbox (no network, a read-only view of one dataset,
CPU, memory and time limits); this check is the layer in front of it. It
rejects, with a line and a reason the author can act on, source that tries
to leave the task model: imports beyond the numeric and standard modules a
task needs, dynamic code (`eval`, `exec`, `__import__`), dynamic attribute
access (`getattr`, dunder attributes such as `__class__` and
`__subclasses__`, `str.format` fields), and the file and network readers and
writers that numpy and pandas carry.

It is deliberately conservative: a few harmless spellings are refused too
(`self.__class__`, `df.query(...)`, `df.open`), each with the spelling to use
instead. It is not a proof of safety: strings built at run time can still
reach names it cannot see, which is why the sandbox exists.

Example:

    >>> from delta.check import check_source
    >>> for violation in check_source("import os\\nx = eval('1')\\n", "task.py"):
    ...     print(violation)  # doctest: +ELLIPSIS
    task.py:1:8: import of 'os' is not allowed: tasks may use numpy, pandas, ...
    task.py:2:5: 'eval' is not allowed: it runs code from a string
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ALLOWED_MODULES", "TaskRejected", "Violation", "check_or_raise", "check_source"]

ALLOWED_MODULES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "math",
    "statistics",
    "delta",
    "typing",
    "typing_extensions",
    "dataclasses",
    "collections",
    "itertools",
    "functools",
    "operator",
    "enum",
    "abc",
    "__future__",
    "fractions",
    "decimal",
    "numbers",
    "heapq",
    "bisect",
    "re",
    "json",
    "copy",
    "string",
    "datetime",
    "torch",  # horizontal learning (delta.HorizontalLearning)
)
"""Top-level modules a task may import: the numeric stack, the SDK, and the
pure parts of the standard library."""

_ALLOWED = frozenset(ALLOWED_MODULES)

_IMPORT_HINT = "tasks may use " + ", ".join(ALLOWED_MODULES)

_CODE_ON_LOAD = frozenset(
    {"pickle", "_pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
)
"""Serialisation modules that run code when they load: never part of a task."""

_DELTA_FORBIDDEN = frozenset(
    {
        "debug",
        "package",
        "check",
        "client",
        "Client",
        "TaskHandle",
        "datasets",
        "load_package",
        "package_task",
        "read_safetensors",
    }
)
"""Parts of the SDK that run on the requester's or holder's machine and read
files or reach the network: never part of a task."""

_FILE_ACCESS = "file and network access is not allowed in tasks"

_DYNAMIC_ATTRIBUTE = "dynamic attribute access can reach forbidden objects"

_FORBIDDEN_NAMES: Mapping[str, str] = {
    "eval": "it runs code from a string",
    "exec": "it runs code from a string",
    "compile": "it turns a string into code",
    "open": _FILE_ACCESS,
    "__import__": "tasks import modules with import statements only",
    "globals": "it exposes the module's namespace",
    "locals": "it exposes the function's namespace",
    "vars": "it exposes an object's namespace",
    "getattr": _DYNAMIC_ATTRIBUTE,
    "setattr": _DYNAMIC_ATTRIBUTE,
    "delattr": _DYNAMIC_ATTRIBUTE,
    "breakpoint": "tasks run without a debugger or console",
    "input": "tasks run without a debugger or console",
    "help": "tasks run without a debugger or console",
    "memoryview": "it exposes raw memory",
    "exit": "a task ends by returning Done from reduce",
    "quit": "a task ends by returning Done from reduce",
}
"""Builtins a task may not name, with the reason shown to its author."""

_ALLOWED_DUNDER_ATTRIBUTES = frozenset(
    {
        "__init__",
        "__post_init__",
        "__new__",
        "__name__",
        "__qualname__",
        "__doc__",
        "__version__",
        "__len__",
        "__iter__",
        "__next__",
        "__contains__",
        "__getitem__",
        "__setitem__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__hash__",
        "__repr__",
        "__str__",
        "__enter__",
        "__exit__",
    }
)
"""Dunder attributes that only reach what ordinary syntax already reaches
(`super().__init__()`, `cls.__name__`): none of them leads to a function's
globals, a class's subclasses or the builtins."""

_ALLOWED_DUNDER_NAMES = frozenset(
    {"__name__", "__doc__", "__all__", "__slots__", "__match_args__", "__version__"}
)
"""Dunder names a module or class body may use (`if __name__ == ...`,
`__slots__ = ...`); `__builtins__`, `__loader__`, `__class__` and the rest
are refused."""

_ALLOWED_DUNDER_STRINGS = _ALLOWED_DUNDER_ATTRIBUTES | _ALLOWED_DUNDER_NAMES | {"__main__"}

_ALLOWED_PRIVATE_ATTRIBUTES = frozenset(
    {"_replace", "_asdict", "_fields", "_field_defaults", "_make"}
)
"""The namedtuple API, which is public despite its underscore."""

_FRAME_IO_ATTRIBUTES = frozenset(
    {
        # pandas readers
        "read_csv",
        "read_parquet",
        "read_excel",
        "read_json",
        "read_sql",
        "read_sql_query",
        "read_sql_table",
        "read_pickle",
        "read_hdf",
        "read_feather",
        "read_html",
        "read_xml",
        "read_table",
        "read_fwf",
        "read_clipboard",
        "read_orc",
        "read_sas",
        "read_spss",
        "read_stata",
        "read_gbq",
        # pandas writers
        "to_csv",
        "to_parquet",
        "to_excel",
        "to_json",
        "to_sql",
        "to_pickle",
        "to_hdf",
        "to_feather",
        "to_html",
        "to_xml",
        "to_clipboard",
        "to_stata",
        "to_orc",
        "to_gbq",
        # numpy array methods
        "tofile",
        "dump",
    }
)
"""I/O methods reachable on a frame or an array, so also by name through
pandas' string dispatch (`df.agg('to_csv', path)`)."""

_IO_ATTRIBUTES = _FRAME_IO_ATTRIBUTES | frozenset(
    {
        # numpy
        "load",
        "save",
        "savez",
        "savez_compressed",
        "loadtxt",
        "savetxt",
        "genfromtxt",
        "fromfile",
        "fromregex",
        "recfromcsv",
        "recfromtxt",
        "memmap",
        "DataSource",
        "lib",
        # pandas
        "io",
        "ExcelFile",
        "ExcelWriter",
        "HDFStore",
        # plots, torch, builtins reached through modules
        "savefig",
        "from_file",
        "hub",
        "open",
        # the SDK's own readers (`delta.debug`, `delta.package`)
        "load_frame",
        "package_task",
        "load_package",
        "run_local",
    }
)
"""Attributes that read or write files or the network; `np.lib` and `pd.io`
are whole namespaces of them."""

_STRING_OUTPUT_METHODS = frozenset({"to_string", "to_latex", "to_markdown"})
"""pandas methods that return a string, or write a file when given `buf`."""

_MODULE_ATTRIBUTES = frozenset(
    {
        "os",
        "sys",
        "builtins",
        "subprocess",
        "socket",
        "ctypes",
        "ctypeslib",
        "importlib",
        "inspect",
        "shutil",
        "pathlib",
        "tempfile",
        "codecs",
        "posix",
        "nt",
        "gc",
        "marshal",
        "pickle",
        "threading",
        "multiprocessing",
        "signal",
        "platform",
        "urllib",
        "http",
        "linecache",
        "tokenize",
        "runpy",
        "pty",
        "mmap",
        "asyncio",
        "gzip",
        "bz2",
        "lzma",
        "zipfile",
        "tarfile",
        "sqlite3",
        "webbrowser",
        "f2py",
        "distutils",
        "cpp_extension",
    }
)
"""Modules that allowed modules hold as attributes (`statistics.sys`,
`dataclasses.builtins`, `json.codecs`, `np.ctypeslib`): naming them is
importing them."""

_CODE_ATTRIBUTES: Mapping[str, str] = {
    "eval": "it runs code from a string",
    "exec": "it runs code from a string",
    "query": "it evaluates a string as code: use boolean indexing, e.g. df[df['age'] > 30]",
    "getattr": _DYNAMIC_ATTRIBUTE,
    "setattr": _DYNAMIC_ATTRIBUTE,
    "delattr": _DYNAMIC_ATTRIBUTE,
    "attrgetter": _DYNAMIC_ATTRIBUTE,
    "methodcaller": _DYNAMIC_ATTRIBUTE,
    "Formatter": _DYNAMIC_ATTRIBUTE,
    "globals": "it exposes the module's namespace",
    "locals": "it exposes the function's namespace",
    "get_type_hints": "it evaluates annotations, which can run code from strings",
    "get_annotations": "it evaluates annotations, which can run code from strings",
    "ForwardRef": "it evaluates annotations, which can run code from strings",
    "singledispatch": "it evaluates annotations, which can run code from strings",
    "singledispatchmethod": "it evaluates annotations, which can run code from strings",
    "CodeType": "it builds code objects, which can run arbitrary bytecode",
    "FunctionType": "it builds functions from code objects",
    "LambdaType": "it builds functions from code objects",
    "load_inline": "it compiles and loads native code",
    "load_library": "it loads native code",
    "system": "it runs a shell command",
    "popen": "it runs a shell command",
}
"""Attributes that run code or look attributes up by name."""

_FORMAT_METHODS = frozenset({"format", "format_map"})

_SIMPLE_FIELD = re.compile(r"\w*")

_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Violation:
    """One reason a task is rejected, at a 1-based line and column (in
    characters) of one of its files."""

    filename: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: {self.reason}"


class TaskRejected(Exception):
    """The static check refused a task; `violations` lists every reason,
    sorted by file, line and column.

    The message names each violation on its own line, so the author can fix
    them all in one pass.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations: tuple[Violation, ...] = tuple(sorted(violations, key=_order))
        count = len(self.violations)
        header = f"the task was rejected by the static check ({count} problem"
        header += ")" if count == 1 else "s)"
        super().__init__("\n".join([header, *(str(v) for v in self.violations)]))


def check_source(source: str, filename: str = "<task>") -> list[Violation]:
    """Every violation in one file, sorted by line and column.

    `filename` is the file's path inside the task package (`task.py`,
    `helpers/stats.py`); it bounds relative imports, which may not climb
    above the package. A syntax error is reported as a violation at its line,
    not raised, so the author sees it with the other reasons.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        line = exc.lineno or 1
        column = exc.offset or 1
        return [Violation(filename, line, column, f"syntax error: {exc.msg}")]
    except (ValueError, RecursionError, MemoryError) as exc:
        # Null bytes (ValueError before 3.12) and pathological nesting.
        return [Violation(filename, 1, 1, f"the source cannot be parsed: {exc}")]
    checker = _Checker(source, filename)
    violations = list(checker.run(tree))
    return sorted(set(violations), key=_order)


def check_or_raise(sources: Mapping[str, str]) -> None:
    """Checks every file of a task (path inside the package -> source) and
    raises `TaskRejected` listing all violations, if there are any."""
    violations: list[Violation] = []
    for filename in sorted(sources):
        violations.extend(check_source(sources[filename], filename))
    if violations:
        raise TaskRejected(violations)


def _order(violation: Violation) -> tuple[str, int, int, str]:
    return (violation.filename, violation.line, violation.column, violation.reason)


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _attribute_reason(name: str) -> str | None:
    """Why an attribute (or a name imported from a module) is refused,
    whatever object it is looked up on; None if it may be used."""
    if _is_dunder(name):
        if name in _ALLOWED_DUNDER_ATTRIBUTES:
            return None
        reason = f"attribute '{name}' is not allowed: dunder attributes can reach forbidden objects"
        if name == "__class__":
            reason += " (use type(x) for the class)"
        return reason
    if name in _IO_ATTRIBUTES:
        return f"'{name}' is not allowed: {_FILE_ACCESS}"
    if name in _MODULE_ATTRIBUTES:
        return (
            f"attribute '{name}' is not allowed: it names a module tasks may not import "
            f"(for a column of that name, use df['{name}'])"
        )
    if name in _CODE_ATTRIBUTES:
        return f"'{name}' is not allowed: {_CODE_ATTRIBUTES[name]}"
    return None


def _private_reason(name: str) -> str:
    return (
        f"attribute '{name}' is not allowed: private attributes of other objects can reach "
        "modules tasks may not import (only self._x and cls._x are allowed)"
    )


def _simple_format_string(template: str) -> bool:
    """True if a `str.format` template only names positional or keyword
    arguments: no `{0.attr}` or `{0[key]}` lookups, in its fields or in
    nested format specs."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return False
    for _literal, field, spec, _conversion in parsed:
        if field is not None and not _SIMPLE_FIELD.fullmatch(field):
            return False
        if spec and not _simple_format_string(spec):
            return False
    return True


class _Checker:
    """Walks one file's tree and yields its violations."""

    def __init__(self, source: str, filename: str) -> None:
        self.filename = filename
        self.lines = _NEWLINE.split(source)
        # Relative imports may climb to the package root and no further:
        # `task.py` may use one dot, `helpers/stats.py` two.
        self.max_relative_level = filename.count("/") + 1
        self.delta_aliases: set[str] = set()

    def run(self, tree: ast.Module) -> Iterator[Violation]:
        nodes = list(ast.walk(tree))
        # Names bound to the `delta` module, to refuse `delta.debug`.
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "delta" or alias.name.startswith("delta."):
                        self.delta_aliases.add(alias.asname or "delta")
        called: dict[int, ast.Call] = {}
        for node in nodes:
            if isinstance(node, ast.Call):
                called[id(node.func)] = node
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from self._import(node)
            elif isinstance(node, ast.ImportFrom):
                yield from self._import_from(node)
            elif isinstance(node, ast.Name):
                yield from self._name(node)
            elif isinstance(node, ast.Attribute):
                yield from self._attribute(node, called.get(id(node)))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield from self._string(node)
            elif isinstance(node, ast.MatchClass):
                # `case object(__class__=c)` looks attributes up by name.
                for attr in node.kwd_attrs:
                    reason = _attribute_reason(attr)
                    if reason is None and attr.startswith("_"):
                        reason = _private_reason(attr)
                    if reason is not None:
                        yield self._at(node.lineno, node.col_offset, reason)

    def _at(self, line: int, byte_column: int, reason: str) -> Violation:
        """A violation at an AST position: `ast` counts columns in UTF-8
        bytes from 0; authors count characters from 1."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        prefix = text.encode("utf-8")[:byte_column].decode("utf-8", errors="replace")
        return Violation(self.filename, line, len(prefix) + 1, reason)

    def _node(self, node: ast.expr | ast.stmt | ast.alias, reason: str) -> Violation:
        return self._at(node.lineno, node.col_offset, reason)

    def _module_reason(self, module: str) -> str | None:
        """Why importing the absolute module path `a.b.c` is refused."""
        parts = module.split(".")
        top = parts[0]
        if top in _CODE_ON_LOAD:
            what = "pickle" if top in ("_pickle", "cPickle") else top
            return (
                f"import of '{module}' is not allowed: {what} is never used: it runs code on load"
            )
        if top not in _ALLOWED:
            return f"import of '{module}' is not allowed: {_IMPORT_HINT}"
        if top == "delta" and len(parts) > 1 and parts[1] in _DELTA_FORBIDDEN:
            return _delta_reason(parts[1])
        for part in parts[1:]:
            reason = _attribute_reason(part)
            if reason is None and part.startswith("_") and not _is_dunder(part):
                reason = _private_reason(part)
            if reason is not None:
                return f"import of '{module}' is not allowed: {reason}"
        return None

    def _import(self, node: ast.Import) -> Iterator[Violation]:
        for alias in node.names:
            reason = self._module_reason(alias.name)
            if reason is not None:
                yield self._node(alias, reason)

    def _import_from(self, node: ast.ImportFrom) -> Iterator[Violation]:
        module = node.module or ""
        if node.level > self.max_relative_level:
            dots = "." * node.level
            yield self._node(
                node,
                f"relative import 'from {dots}{module}' is not allowed: it leaves the task package",
            )
            return
        if node.level == 0:
            reason = self._module_reason(module)
            if reason is not None:
                yield self._node(node, reason)
                return
        for alias in node.names:
            name = alias.name
            if name == "*":
                yield self._node(
                    alias,
                    f"'from {'.' * node.level}{module} import *' is not allowed: "
                    "import the names the task uses",
                )
                continue
            if node.level == 0 and module == "delta" and name in _DELTA_FORBIDDEN:
                yield self._node(alias, _delta_reason(name))
                continue
            reason = _attribute_reason(name)
            if reason is None and node.level == 0 and name.startswith("_") and not _is_dunder(name):
                # A task's own modules may share private helpers.
                reason = _private_reason(name)
            if reason is None and name in _FORBIDDEN_NAMES:
                reason = f"'{name}' is not allowed: {_FORBIDDEN_NAMES[name]}"
            if reason is not None:
                yield self._node(alias, reason)

    def _name(self, node: ast.Name) -> Iterator[Violation]:
        name = node.id
        if isinstance(node.ctx, ast.Load) and name in _FORBIDDEN_NAMES:
            yield self._node(node, f"'{name}' is not allowed: {_FORBIDDEN_NAMES[name]}")
        elif _is_dunder(name) and name not in _ALLOWED_DUNDER_NAMES:
            yield self._node(
                node, f"'{name}' is not allowed: dunder names can reach forbidden objects"
            )

    def _attribute(self, node: ast.Attribute, call: ast.Call | None) -> Iterator[Violation]:
        attr = node.attr
        # Report at the attribute's own name, the node's last token, so that
        # `df\n    .to_csv(...)` is reported on the `.to_csv` line.
        line = node.end_lineno or node.lineno
        end = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        start = max(end - len(attr.encode("utf-8")), 0)
        receiver = node.value

        if isinstance(receiver, ast.Name) and receiver.id in self.delta_aliases:
            if attr in _DELTA_FORBIDDEN:
                yield self._at(line, start, _delta_reason(attr))
                return
        if attr == "eval" and call is not None and not call.args and not call.keywords:
            # torch's `model.eval()` switches to inference; pandas' `eval`
            # always takes the expression to run.
            return
        reason = _attribute_reason(attr)
        if reason is not None:
            yield self._at(line, start, reason)
            return
        if _is_dunder(attr):
            return
        if attr.startswith("_") and attr not in _ALLOWED_PRIVATE_ATTRIBUTES:
            if not _own_receiver(receiver):
                yield self._at(line, start, _private_reason(attr))
            return
        if attr in _STRING_OUTPUT_METHODS:
            if call is None or call.args or any(k.arg in (None, "buf") for k in call.keywords):
                yield self._at(
                    line,
                    start,
                    f"'{attr}' with a buf argument writes a file ({_FILE_ACCESS}): "
                    "pass only keyword options and use the string it returns",
                )
            return
        if attr in _FORMAT_METHODS:
            template = receiver.value if isinstance(receiver, ast.Constant) else None
            if not (isinstance(template, str) and _simple_format_string(template)):
                yield self._at(
                    line,
                    start,
                    f"'{attr}' is not allowed here: str.format can read attributes by name; "
                    "use an f-string",
                )

    def _string(self, node: ast.Constant) -> Iterator[Violation]:
        value = str(node.value)
        named = value in _FRAME_IO_ATTRIBUTES or value in ("query", "eval")
        named = named or (_is_dunder(value) and value not in _ALLOWED_DUNDER_STRINGS)
        if named:
            yield self._node(
                node,
                f"the string '{value}' names a forbidden attribute, which pandas and numpy "
                "can look up by name (as in df.agg('to_csv', path))",
            )


def _own_receiver(receiver: ast.expr) -> bool:
    """`self._x`, `cls._x` and `super()._x` reach the task's own state."""
    if isinstance(receiver, ast.Name):
        return receiver.id in ("self", "cls")
    return (
        isinstance(receiver, ast.Call)
        and isinstance(receiver.func, ast.Name)
        and receiver.func.id == "super"
    )


def _delta_reason(name: str) -> str:
    return (
        f"'delta.{name}' is not allowed: it runs on the requester's machine and reads files; "
        "tasks use delta's task classes (MapReduce, Step, Done)"
    )
