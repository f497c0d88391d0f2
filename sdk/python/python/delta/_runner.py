"""`delta._runner`: the process in which a data holder runs task code.

The holder's worker (`delta-worker`) starts one per task and role, with the
*installed* SDK and its own OS sandbox around it (no network namespace,
Landlock file rules, rlimits):

    python3 -I -m delta._runner prepare --spec SPEC.json --out OUT.parquet
    python3 -I -m delta._runner serve --scratch DIR [--dataset CLEANED.parquet]

(`-I` ignores PYTHONPATH and the user's site folder, so the SDK the worker
runs is the one installed next to that interpreter.)

`prepare` runs `delta.datasets.prepare` and prints one JSON line,
`{"ok": true, ...report}` or `{"ok": false, "error": message}`; its exit
code is 0 either way, and non-zero only if the runner itself crashed.

`serve` starts before any task is known: it reads the dataset, imports
numpy, pandas and pyarrow, installs its audit hook and says so; a worker
keeps such idle runners ready (`sandbox.idle_runners`), so that a round
does not wait for Python to start. Then it is sent one package and answers
requests for it, one message on stdin for each reply on stdout, until stdin
closes. A message is one JSON object on one line, followed by its binary
attachments when it names them: `"blobs": [n0, n1, ...]` says that n0 + n1
+ ... raw bytes follow the newline, and a binary field (a step's body, a
map's values, a reduce's sums, a checkpoint's data) is then `{"blob": i}`,
the i-th of them, at the message's top level or in its `step`. A reader
also takes a binary field as base64 text (the `load` request's package is
sent that way). Large vectors so travel as they are, never as text:

- the first line is `{"ok": true, "idle": true, "protocol": PROTOCOL}`
  (the protocol's version, which the worker checks), or
  `{"ok": false, "kind": "dataset", "error": ...}` and exit code 4 when
  the dataset file cannot be read (`"kind": "setup"` and exit code 2 for a
  bad scratch folder).
- the first request is `{"op": "load", "package": base64 of
  TaskPackage.to_bytes(), "digest": its SHA-256 in hex}` ->
  `{"ok": true, "ready": true, "protocol": PROTOCOL}` or, when the
  package cannot be loaded, `{"ok": false, "kind": "package", "error":
  ...}` and exit code 3.
- STEP is `{"dataset": str, "body": Step.body() (binary),
  "outputs": [[name, dtype, shape], ...]}` (dtype "float64", "float32"
  or "int64"; shape a list of sizes, `[]` for a scalar), an output with a
  declared bound as `[name, dtype, shape, bound]`, and `"privacy":
  {"clip", "noise_multiplier", "delta"}` when the step asks for
  differential privacy (the worker's engine clips and noises; the runner
  never sees the noise).
- `{"op": "info"}` -> `{"ok": true, "dataset", "max_rounds", "kind",
  "entrypoint": "file:Class", "resumable": bool}`
- `{"op": "start"}` -> `{"ok": true, "step": STEP}`; with `"resume":
  {"rounds_started": n, "checkpoint": bool}` the task is resumed
  (the task's `resume`) from the checkpoint sent before in `restore`
  requests (or from none) instead of started
- `{"op": "restore", "data": binary}` -> `{"ok": true, "bytes": n}`:
  appends a part of a stored checkpoint, before a resuming `start`
- `{"op": "checkpoint", "part": i}` -> `{"ok": true, "data": binary,
  "parts": n}`: part i of the task's checkpoint after its last reduce
  (`MapReduce.checkpoint`, computed at part 0, CHECKPOINT_PART bytes a
  part), or `{"ok": true, "parts": 0}` for a task that keeps none
- `{"op": "map", "step": STEP}` -> `{"ok": true, "values": binary, the
  outputs in STEP's order, each little-endian in its dtype}`
- `{"op": "reduce", "step": STEP, "sums": binary, the sums in STEP's
  order (float64 for float outputs, int64 for int64 ones), "members": n}` ->
  `{"ok": true, "step": STEP}` or `{"ok": true, "done": delta._wire JSON}`
- failures: `{"ok": false, "kind": K, "error": message}` with K one of
  "plan" (a member's `check_plan` refused an analytics step; the message
  names the fault and is told to the requester), "policy" (the task's
  `PolicyRefusal`), "sandbox" (the audit hook refused
  an operation), "resources" (MemoryError, RecursionError), "task" (any
  other exception; the message names the innermost line of the task's own
  files) or "protocol" (a malformed request). The runner answers and
  keeps serving, except after a malformed `blobs` list: it cannot know
  where the next message starts, so it answers and exits.

Task code is imported from the package's source text, in memory, as the
package `delta_task_<first 16 hex digits of the digest>`; relative imports
between its files work, and nothing is written to disk. It runs after the
runner has moved to the scratch folder and installed an audit hook
(`sys.addaudithook`), a second layer behind the worker's OS sandbox: it
refuses network access, processes, signals, ctypes, unpickling, reads
outside the scratch folder and the Python installation, and writes
outside the scratch folder, with a message that starts with "sandbox: ".
An audit hook is not a security boundary on its own (native code does not
raise audit events), which is why the OS sandbox exists; what the hook
adds is a clear reason in the task's error instead of a bare EACCES.

PyTorch loads its shared libraries with ctypes when it is imported, which
the hook refuses; so for a package whose kind is "horizontal_learning"
the runner imports torch itself (`preload`), after the package has been
read and checked and before any of its code is imported, with the hook
passing the runner's own thread (`Sandbox.trusted`). Task code then finds
torch imported; a task that imports ctypes itself is still refused.

The real stdout is kept for the protocol; fd 1 and `sys.stdout` point to
stderr, so a task's `print()` goes to the task log the worker keeps.

`delta.debug` runs this same code in the requester's interpreter, one
`Server` per simulated process: `load_task` on a package read back with
`load_package`, requests and replies as the protocol's messages
(`encode_message`, `read_message`), `unload_task` at the end. Only the OS sandbox, the audit
hook and the separate process are left out there.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import linecache
import os
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol

from . import _wire
from .analytics import PlanError
from .check import TaskRejected
from .datasets import DatasetError, prepare
from .mapreduce import (
    DTYPES,
    Done,
    MapReduce,
    Output,
    PolicyRefusal,
    Privacy,
    Step,
    flatten,
    sums_length,
    unflatten,
)
from .package import PackageError, TaskPackage, load_package

__all__ = [
    "Sandbox",
    "SandboxViolation",
    "Server",
    "load_task",
    "member_task",
    "main",
    "package_error",
    "encode_message",
    "message_parts",
    "MessageStream",
    "PartsReader",
    "read_message",
    "reply_line",
    "reply_parts",
    "step_from_wire",
    "unload_task",
]

PROTOCOL = 5
"""The runner protocol's version: 2 since step outputs are typed
(`[name, dtype, shape]`) and values travel in their declared types, 3
since an output may carry its bound (`[name, dtype, shape, bound]`), 4
since a runner starts idle and is sent its package (`load`), 5 since
binary fields travel as attachments (`blobs`), not base64. A worker
refuses a runner that speaks another. (The `checkpoint` and `restore`
ops and `start`'s `resume` came within 4: a worker uses them only for a
package whose `info` says it is resumable.)"""

MAX_ATTACHED = 1 << 30
"""Most bytes of attachments one message may name (the worker's own limit
on a reply is lower)."""

CHECKPOINT_PART = 8 << 20
"""Bytes of a checkpoint per `checkpoint` reply: a reply line stays far
below the worker's limit however large the model."""

EXIT_SETUP = 2
EXIT_PACKAGE = 3
EXIT_DATASET = 4

TASK_FILE_PREFIX = "<task>/"
"""Code from the package is compiled with this prefix before its path, so
tracebacks show `<task>/helpers.py` and errors can name the task's own
line."""


# -- the sandbox -----------------------------------------------------------------


class SandboxViolation(PermissionError):
    """Raised by the audit hook; the message starts with "sandbox: "."""


_NETWORK_EVENTS = frozenset(
    {
        "urllib.Request",
        "http.client.connect",
        "http.client.send",
        "ftplib.connect",
        "smtplib.connect",
        "imaplib.open",
        "poplib.connect",
        "nntplib.connect",
        "telnetlib.Telnet.open",
        "webbrowser.open",
    }
)
_PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.startfile",
        "pty.spawn",
    }
)
_SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
_INTERPRETER_EVENTS = {
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
    "gc.get_objects": "inspecting the interpreter's objects",
    "gc.get_referrers": "inspecting the interpreter's objects",
    "gc.get_referents": "inspecting the interpreter's objects",
    "pickle.find_class": "unpickling",
    "sqlite3.connect": "opening databases",
}
_PATH_EVENTS: Mapping[str, tuple[str, tuple[int, ...]]] = {
    # event: (what is done, positions of the path arguments)
    "os.mkdir": ("creating", (0,)),
    "os.rmdir": ("removing", (0,)),
    "os.remove": ("removing", (0,)),
    "os.rename": ("renaming", (0, 1)),
    "os.link": ("linking", (0, 1)),
    "os.truncate": ("truncating", (0,)),
    "os.chmod": ("changing the mode of", (0,)),
    "os.chown": ("changing the owner of", (0,)),
    "os.utime": ("changing the times of", (0,)),
    "os.chflags": ("changing the flags of", (0,)),
    "os.lchflags": ("changing the flags of", (0,)),
    "os.setxattr": ("changing the attributes of", (0,)),
    "os.removexattr": ("changing the attributes of", (0,)),
    "shutil.rmtree": ("removing", (0,)),
}
_DIR_FD_POSITIONS: Mapping[str, tuple[int, ...]] = {
    # event: positions of its dir_fd arguments (-1 or None: none given)
    "os.mkdir": (2,),
    "os.rmdir": (1,),
    "os.remove": (1,),
    "os.rename": (2, 3),
    "os.link": (2, 3),
    "os.chmod": (2,),
    "os.chown": (3,),
    "os.utime": (3,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class _Trusted:
    """`Sandbox.trusted()`: the hook's own re-entry flag, held."""

    def __init__(self, local: threading.local) -> None:
        self._local = local
        self._before = False

    def __enter__(self) -> None:
        self._before = getattr(self._local, "busy", False)
        self._local.busy = True

    def __exit__(self, *exc: object) -> None:
        self._local.busy = self._before


PRELOADS: Mapping[str, tuple[str, ...]] = {"horizontal_learning": ("torch",)}
"""Modules imported before task code for a package of each kind: they load
native libraries with ctypes, which the audit hook refuses task code."""


def preload(kind: str, sandbox: Sandbox | None) -> None:
    """Imports what tasks of `kind` need (`PRELOADS`) that is installed, with
    the hook passing this thread; a missing module is the task's to report
    when it imports it. First the address-space limit is raised from its
    soft value to its hard one, which the worker sets for these kinds
    (`sandbox.learning_memory_mb`): torch alone maps about 3 GiB."""
    names = [
        n for n in PRELOADS.get(kind, ()) if n not in sys.modules and importlib.util.find_spec(n)
    ]
    if not names:
        return
    with sandbox.trusted() if sandbox is not None else contextlib.nullcontext():
        _raise_address_space()
        for name in names:
            importlib.import_module(name)


def _raise_address_space() -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


class Sandbox:
    """The audit-hook layer: what task code may touch.

    Reads are allowed under the scratch folder and `read_roots` (the
    Python installation: `sys.prefix`, `sys.base_prefix`, the standard
    library and site-packages folders, the folders of numpy, pandas,
    pyarrow and delta, which imports load lazily, and time-zone data:
    `python_roots()`); writes, removals and
    `chdir` only under the scratch folder; `/dev/null` both ways. Opening
    a file descriptor by number is allowed except for `protected_fds`
    (stdin and the protocol's stdout), so that a library's own pipes work.

    Every refusal raises `SandboxViolation` and is reported on stderr. All
    but directory listings (which the import system probes and tolerates)
    are also recorded, ranked (0: network, processes, signals, native code
    and the like; 1: changing files; 2: reading), so that a task call
    during which something was refused fails with kind "sandbox" even when
    a library caught the error (`platform` swallows a refused `uname -p`),
    naming the most serious refusal.
    """

    def __init__(
        self,
        scratch: Path,
        read_roots: Iterable[str] = (),
        protected_fds: Iterable[int] = (),
    ) -> None:
        self.scratch = os.path.realpath(scratch)
        roots = {self.scratch, *(os.path.realpath(r) for r in read_roots)}
        self.read_roots = tuple(sorted(roots))
        self.protected_fds = frozenset(protected_fds)
        self.refusals: list[tuple[int, str]] = []
        self._local = threading.local()
        self.installed = False

    @staticmethod
    def python_roots() -> list[str]:
        """The folders imports read from: the interpreter's prefixes,
        stdlib and site-packages, the folders holding numpy, pandas,
        pyarrow and delta (with their parent when it is on `sys.path`, as
        for a development checkout), and the system's time-zone data."""
        import site
        import sysconfig

        roots: set[str] = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        paths = sysconfig.get_paths()
        roots.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)
        try:
            roots.update(site.getsitepackages())
        except AttributeError:  # pragma: no cover - virtualenv's old site.py
            pass
        # Time-zone data, which pandas and dateutil read with Python's open().
        tzpath = sysconfig.get_config_var("TZPATH")
        if isinstance(tzpath, str):
            roots.update(p for p in tzpath.split(os.pathsep) if os.path.isabs(p))
        on_path = {os.path.realpath(p) for p in sys.path if p}
        for name in ("numpy", "pandas", "pyarrow", "delta"):
            location = getattr(sys.modules.get(name), "__file__", None)
            if not location:
                continue
            folder = os.path.dirname(os.path.realpath(location))
            roots.add(folder)
            parent = os.path.dirname(folder)
            if parent in on_path:
                roots.add(parent)
        return sorted(r for r in roots if r)

    def install(self) -> None:
        """Installs the hook; it stays for the life of the process (audit
        hooks cannot be removed)."""
        if not self.installed:
            sys.addaudithook(self._hook)
            self.installed = True

    def trusted(self) -> _Trusted:
        """A context in which the hook passes everything this thread does:
        for the runner's own imports before task code runs, never around
        task code."""
        return _Trusted(self._local)

    def take_refusals(self) -> list[str]:
        """The refusals recorded since the last call, most serious first."""
        out, self.refusals = self.refusals, []
        return [message for _, message in sorted(out, key=lambda r: r[0])]

    # -- the hook

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if getattr(self._local, "busy", False):
            return  # events raised by the hook's own path resolution
        self._local.busy = True
        try:
            refusal = self._refusal(event, args)
            where = _task_line(sys._getframe(1)) if refusal is not None else None
        finally:
            self._local.busy = False
        if refusal is None:
            return
        rank, reason = refusal
        message = f"sandbox: {reason}"
        if event not in ("os.listdir", "os.scandir"):
            self.refusals.append((rank, message + (f" (at {where})" if where else "")))
        try:
            sys.stderr.write(f"delta-runner: refused: {message}\n")
        except Exception:  # reporting must never mask the refusal
            pass
        raise SandboxViolation(message)

    def _refusal(self, event: str, args: tuple[Any, ...]) -> tuple[int, str] | None:
        """(rank, reason) when `event` is refused."""
        if event == "open":
            return self._open(args)
        if event.startswith("socket.") or event in _NETWORK_EVENTS:
            return 0, f"network access is not allowed ({event})"
        if event in _PROCESS_EVENTS:
            return 0, f"starting processes is not allowed ({event})"
        if event in _SIGNAL_EVENTS:
            return 0, f"sending signals is not allowed ({event})"
        if event.startswith("ctypes."):
            return 0, f"native code access (ctypes) is not allowed ({event})"
        if event in _INTERPRETER_EVENTS:
            return 0, f"{_INTERPRETER_EVENTS[event]} is not allowed ({event})"
        if event in ("os.listdir", "os.scandir"):
            path = args[0] if args else None
            return self._read_path(event, "." if path is None else path, "listing")
        if event == "os.chdir":
            return self._inside(event, args[0] if args else None, "changing directory to")
        if event == "os.symlink":
            return self._symlink(args)
        known = _PATH_EVENTS.get(event)
        if known is None:
            return None
        verb, positions = known
        for fd_position in _DIR_FD_POSITIONS.get(event, ()):
            if len(args) > fd_position and args[fd_position] not in (None, -1):
                return 1, f"paths relative to a directory descriptor are not allowed ({event})"
        for position in positions:
            if len(args) > position:
                refusal = self._inside(event, args[position], verb)
                if refusal is not None:
                    return refusal
        return None

    def _open(self, args: tuple[Any, ...]) -> tuple[int, str] | None:
        path = args[0] if args else None
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else None
        if isinstance(path, int):
            if path in self.protected_fds:
                return 1, f"opening file descriptor {path} is not allowed (open): the runner's own"
            return None
        if path in ("/dev/null", b"/dev/null"):
            return None
        writing = isinstance(mode, str) and any(c in mode for c in "wax+")
        writing = writing or (isinstance(flags, int) and bool(flags & _WRITE_FLAGS))
        if writing:
            return self._inside("open", path, "writing")
        return self._read_path("open", path, "reading")

    @staticmethod
    def _resolve(path: Any) -> str | None:
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            return None
        return os.path.realpath(text)

    @staticmethod
    def _under(path: str, roots: Iterable[str]) -> bool:
        return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)

    def _read_path(self, event: str, path: Any, verb: str) -> tuple[int, str] | None:
        if isinstance(path, int):
            return 2, f"{verb} file descriptor {path} is not allowed ({event})"
        full = self._resolve(path)
        if full is None:
            return 2, f"{verb} {path!r} is not allowed ({event})"
        if self._under(full, self.read_roots):
            return None
        return 2, (
            f"{verb} {full} is not allowed ({event}): tasks read only their dataset, their "
            "scratch folder and the Python installation"
        )

    def _inside(self, event: str, path: Any, verb: str) -> tuple[int, str] | None:
        if isinstance(path, int):
            return 1, f"{verb} file descriptor {path} is not allowed ({event})"
        full = self._resolve(path)
        if full is not None and self._under(full, (self.scratch,)):
            return None
        shown = full if full is not None else repr(path)
        return 1, (
            f"{verb} {shown} is not allowed ({event}): tasks change files only in their "
            "scratch folder"
        )

    def _symlink(self, args: tuple[Any, ...]) -> tuple[int, str] | None:
        if len(args) < 2:
            return 1, "creating links is not allowed (os.symlink)"
        dir_fd = args[2] if len(args) > 2 else None
        if dir_fd not in (None, -1):
            return 1, "paths relative to a directory descriptor are not allowed (os.symlink)"
        link = self._inside("os.symlink", args[1], "creating a link at")
        if link is not None:
            return link
        try:
            target = os.path.join(os.path.dirname(os.fsdecode(args[1])), os.fsdecode(args[0]))
        except TypeError:
            return 1, "creating links is not allowed (os.symlink)"
        return self._inside("os.symlink", target, "linking to")


# -- loading the task ----------------------------------------------------------------


class _TaskImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the package's files as modules under `root`, from memory."""

    def __init__(self, root: str, files: Mapping[str, str]) -> None:
        self.root = root
        self.files = dict(files)
        # module name -> (file in the package or None, is a package)
        self.modules: dict[str, tuple[str | None, bool]] = {root: (None, True)}
        for path in sorted(files):
            parts = path[: -len(".py")].split("/")
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            for depth in range(1, len(parts)):
                name = ".".join([root, *parts[:depth]])
                if name not in self.modules:
                    init = "/".join(parts[:depth]) + "/__init__.py"
                    self.modules[name] = (init if init in files else None, True)
            self.modules[".".join([root, *parts])] = (path, is_package)

    def module_name(self, path: str) -> str:
        for name, (file, _) in self.modules.items():
            if file == path:
                return name
        raise PackageError(f"{path} is not a file of the package")

    def find_spec(
        self,
        fullname: str,
        path: Any = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        _, is_package = self.modules[fullname]
        return importlib.util.spec_from_loader(fullname, self, is_package=is_package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        path, _ = self.modules[module.__name__]
        if path is None:
            return
        source = self.files[path]
        filename = TASK_FILE_PREFIX + path
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = compile(source, filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)


def _module_root(package: TaskPackage) -> str:
    return "delta_task_" + package.hexdigest()[:16]


def load_task(package: TaskPackage) -> MapReduce:
    """Imports the package's modules and returns its entrypoint class,
    instantiated with no arguments. Loading the same package again in one
    interpreter reuses its modules and gives a new instance."""
    root = _module_root(package)
    importer = next(
        (f for f in sys.meta_path if isinstance(f, _TaskImporter) and f.root == root), None
    )
    if importer is None:
        importer = _TaskImporter(root, package.files)
        sys.meta_path.insert(0, importer)
    entry = package.manifest["entrypoint"]
    module = importlib.import_module(importer.module_name(entry["file"]))
    target: Any = module
    for part in entry["class"].split("."):
        if part not in vars(target):
            raise PackageError(f"{entry['file']} defines no {entry['class']}")
        target = vars(target)[part]
    if not isinstance(target, type) or not issubclass(target, MapReduce):
        raise PackageError(
            f"the entrypoint {entry['file']}:{entry['class']} is not a delta.MapReduce or "
            "delta.Analytics subclass"
        )
    task = target()
    published = package.manifest.get("levels")
    if published:
        from .analytics import Analytics

        if isinstance(task, Analytics):
            task.use_published_levels(published)
    return task


def member_task(package: TaskPackage, min_cell_rows: int = 0) -> MapReduce:
    """What a member runs for `package`: for an analytics package
    (`"members_run": "plan"`) this SDK's plan evaluator, without importing
    a line of the package, withholding cells of fewer than `min_cell_rows`
    of the member's rows (the holder's policy); otherwise the package's own task
    (`load_task`), which the worker starts only with the holder's
    consent."""
    if package.manifest.get("members_run") == "plan":
        from .analytics import PlanEvaluator

        dataset = package.manifest.get("dataset")
        if isinstance(dataset, list):
            dataset = dataset[0] if dataset else ""
        return PlanEvaluator(dataset if isinstance(dataset, str) else "", min_cell_rows)
    return load_task(package)


def unload_task(package: TaskPackage) -> None:
    """Forgets the package's modules and their importer, for hosts that
    load packages in a long-lived interpreter (`delta.debug`); the runner's
    own process never needs it."""
    root = _module_root(package)
    sys.meta_path[:] = [
        f for f in sys.meta_path if not (isinstance(f, _TaskImporter) and f.root == root)
    ]
    for name in [n for n in sys.modules if n == root or n.startswith(root + ".")]:
        del sys.modules[name]


# -- serving ---------------------------------------------------------------------------


class _ProtocolError(Exception):
    """A request the runner cannot act on; answered with kind "protocol".
    `lost`: the stream's framing is lost with it (nothing more can be read)."""

    def __init__(self, message: str, lost: bool = False) -> None:
        super().__init__(message)
        self.lost = lost


def _task_line(frame: types.FrameType | None) -> str | None:
    """`file:line: source` of the innermost task frame on a live stack."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(TASK_FILE_PREFIX):
            line = linecache.getline(filename, frame.f_lineno).strip()
            name = filename[len(TASK_FILE_PREFIX) :]
            return f"{name}:{frame.f_lineno}" + (f": {line}" if line else "")
        frame = frame.f_back
    return None


def _where(exc: BaseException) -> str | None:
    """`file:line: source` of the innermost frame in the task's own files."""
    found: str | None = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(TASK_FILE_PREFIX):
            name = frame.filename[len(TASK_FILE_PREFIX) :]
            line = (frame.line or "").strip()
            found = f"{name}:{frame.lineno}" + (f": {line}" if line else "")
    return found


def _violation(exc: BaseException) -> SandboxViolation | None:
    """A sandbox refusal behind `exc`: itself, its cause or context, or an
    exception it carries as an argument (`URLError(reason)`)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, SandboxViolation):
            return current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return None


def _text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure(exc: BaseException, refusals: list[str]) -> dict[str, Any]:
    """The reply for an exception raised by task code."""
    where = _where(exc)
    at = f" (at {where})" if where else ""
    if isinstance(exc, PlanError):
        return {"ok": False, "kind": "plan", "error": str(exc)}
    if isinstance(exc, PolicyRefusal):
        return {"ok": False, "kind": "policy", "error": (str(exc) or "refused") + at}
    violation = _violation(exc)
    if violation is not None:
        return {"ok": False, "kind": "sandbox", "error": str(violation) + at}
    if refusals:
        # Refused and caught inside a library; the record says where.
        return {"ok": False, "kind": "sandbox", "error": refusals[0]}
    if isinstance(exc, MemoryError):
        return {"ok": False, "kind": "resources", "error": "MemoryError: out of memory" + at}
    if isinstance(exc, RecursionError):
        return {"ok": False, "kind": "resources", "error": _text(exc) + at}
    return {"ok": False, "kind": "task", "error": _text(exc) + at}


def _binary(value: Any, what: str) -> bytes:
    """A binary field: an attachment (bytes, once the message is read) or
    base64 text."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise _ProtocolError(f"{what} must be an attachment or base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _ProtocolError(f"{what} is not base64: {exc}") from None


def _binary_fields(message: Mapping[str, Any], field: Callable[[Any], Any]) -> dict[str, Any]:
    """`message` with `field` applied to each value where a binary field may
    be: at its top level and in its `step`."""
    out = {key: field(value) for key, value in message.items()}
    step = out.get("step")
    if isinstance(step, dict):
        out["step"] = {key: field(value) for key, value in step.items()}
    return out


def _attach(value: Any, blobs: list[bytes]) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        blobs.append(bytes(value))
        return {"blob": len(blobs) - 1}
    return value


def message_parts(message: Mapping[str, Any]) -> list[bytes]:
    """A request or reply as the protocol carries it, in pieces: the JSON
    line, then its bytes values (at the top level or in its `step`) as
    attachments, each written as it is (a model-sized value is not copied
    into one buffer with the line). Raises TypeError or ValueError for what
    strict JSON cannot hold."""
    blobs: list[bytes] = []
    out = _binary_fields(message, lambda value: _attach(value, blobs))
    if blobs:
        out["blobs"] = [len(b) for b in blobs]
    text = json.dumps(out, separators=(",", ":"), allow_nan=False)
    return [text.encode("utf-8") + b"\n", *blobs]


def encode_message(message: Mapping[str, Any]) -> bytes:
    """`message_parts` as one byte string."""
    return b"".join(message_parts(message))


def _resolve(value: Any, blobs: Sequence[bytes]) -> Any:
    if isinstance(value, dict) and set(value) == {"blob"}:
        index = value["blob"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(blobs):
            raise _ProtocolError(f"attachment {index!r} is not one of the {len(blobs)} sent")
        return blobs[index]
    return value


class MessageStream(Protocol):
    """What `read_message` reads from: a binary stream (a pipe, a file),
    or `PartsReader`."""

    def readline(self) -> bytes: ...

    def read(self, size: int) -> bytes: ...


class PartsReader:
    """`message_parts` read back as a stream, as `delta.debug` passes
    messages in one process: the same parsing and checks as a pipe, with
    each attachment handed over as the object it is rather than copied
    out of one buffer (a model is 8 MB, ten members, every round)."""

    def __init__(self, parts: Sequence[bytes]) -> None:
        self.parts = list(reversed(parts))
        self.head = b""

    def _fill(self) -> bool:
        if not self.head and self.parts:
            self.head = self.parts.pop()
        return bool(self.head)

    def readline(self) -> bytes:
        line = b""
        while self._fill():
            end = self.head.find(b"\n")
            if end >= 0:
                line += self.head[: end + 1]
                self.head = self.head[end + 1 :]
                return line
            line += self.head
            self.head = b""
        return line

    def read(self, size: int) -> bytes:
        if self._fill() and len(self.head) == size:
            out, self.head = self.head, b""
            return out
        out = b""
        while len(out) < size and self._fill():
            take = self.head[: size - len(out)]
            self.head = self.head[len(take) :]
            out += take
        return out


def read_message(stream: MessageStream) -> dict[str, Any] | None:
    """The next message on `stream`, its attachments in place (as bytes);
    None at the end of the stream. Raises `_ProtocolError` for a line that
    is not a JSON object (the next line is still a message) or a bad
    `blobs` list or a stream that ends inside the attachments (`lost`)."""
    line = stream.readline()
    while line and not line.strip():
        line = stream.readline()
    if not line:
        return None
    try:
        message = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _ProtocolError(f"the request is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise _ProtocolError("a request is a JSON object")
    lengths = message.pop("blobs", [])
    if (
        not isinstance(lengths, list)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lengths)
        or sum(lengths) > MAX_ATTACHED
    ):
        raise _ProtocolError(
            f"'blobs' must list the byte lengths of the attachments, at most "
            f"{MAX_ATTACHED} bytes in all, not {lengths!r}",
            lost=True,
        )
    blobs = []
    for n in lengths:
        blob = stream.read(n)
        if len(blob) != n:
            raise _ProtocolError("the stream ended inside an attachment", lost=True)
        blobs.append(blob)
    return _binary_fields(message, lambda value: _resolve(value, blobs))


class Server:
    """Answers protocol requests for one task instance."""

    def __init__(
        self,
        task: MapReduce,
        package: TaskPackage,
        frame: Any | None,
        sandbox: Sandbox | None,
    ) -> None:
        self.task = task
        self.package = package
        self.frame = frame
        self.sandbox = sandbox
        # The step issued last, by its body: the engine runs one round at a
        # time, so the next `reduce` names it, and the requester gets back
        # its own Step object. Only the last is kept (each holds a model).
        self.steps: dict[bytes, Step] = {}
        # A checkpoint being sent to the worker, and one being received.
        self.checkpointed = b""
        self.restored = bytearray()
        dataset = getattr(task, "dataset", None)
        if not isinstance(dataset, str):
            manifest_dataset = package.manifest.get("dataset")
            if isinstance(manifest_dataset, list) and manifest_dataset:
                dataset = manifest_dataset[0]
            else:
                dataset = manifest_dataset if isinstance(manifest_dataset, str) else ""
        self.dataset: str = dataset

    def serve(self, requests: IO[bytes], replies: IO[bytes]) -> None:
        """Answers every message of `requests` until end of file (or until
        the stream's framing is lost)."""
        while True:
            try:
                request = read_message(requests)
            except _ProtocolError as exc:
                replies.write(reply_line({"ok": False, "kind": "protocol", "error": str(exc)}))
                replies.flush()
                if exc.lost:
                    return
                continue
            if request is None:
                return
            replies.writelines(reply_parts(self.handle(request)))
            replies.flush()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to one request, read with `read_message`."""
        op = request.get("op")
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = (
            {
                "info": self._info,
                "start": self._start,
                "map": self._map,
                "reduce": self._reduce,
                "checkpoint": self._checkpoint,
                "restore": self._restore,
            }.get(op)
            if isinstance(op, str)
            else None
        )
        if handler is None:
            return {
                "ok": False,
                "kind": "protocol",
                "error": f"unknown op {op!r}: expected info, start, map, reduce, "
                "checkpoint or restore",
            }
        try:
            return handler(request)
        except _ProtocolError as exc:
            return {"ok": False, "kind": "protocol", "error": str(exc)}

    def _run(self, call: Callable[[], Any]) -> tuple[Any, dict[str, Any] | None]:
        """Runs task code; returns its value, or the failure reply."""
        if self.sandbox is not None:
            self.sandbox.take_refusals()
        try:
            value = call()
        except BaseException as exc:  # the runner outlives every task error
            refusals = self.sandbox.take_refusals() if self.sandbox is not None else []
            reply = failure(exc, refusals)
            try:
                traceback.print_exception(exc, file=sys.stderr)
            except BaseException:  # the log is best effort
                pass
            return None, reply
        refusals = self.sandbox.take_refusals() if self.sandbox is not None else []
        if refusals:
            # A library caught the refusal; the task still tried, and its
            # output may be shaped by the failure: the call fails.
            return None, {"ok": False, "kind": "sandbox", "error": refusals[0]}
        return value, None

    # -- ops

    def _info(self, request: dict[str, Any]) -> dict[str, Any]:
        manifest = self.package.manifest
        rounds = manifest.get("max_rounds")
        if not isinstance(rounds, int):
            rounds = int(getattr(self.task, "max_rounds", 32))
        entry = manifest["entrypoint"]
        return {
            "ok": True,
            "dataset": manifest.get("dataset"),
            "max_rounds": rounds,
            "kind": manifest["kind"],
            "entrypoint": f"{entry['file']}:{entry['class']}",
            "resumable": type(self.task).resumable(),
        }

    def _start(self, request: dict[str, Any]) -> dict[str, Any]:
        resume = request.get("resume")
        if resume is None:
            step, failed = self._run(self.task.start)
        else:
            started = resume.get("rounds_started") if isinstance(resume, dict) else None
            has = resume.get("checkpoint") if isinstance(resume, dict) else None
            if not isinstance(started, int) or isinstance(started, bool) or started < 0:
                raise _ProtocolError("'resume.rounds_started' must be a non-negative integer")
            if not isinstance(has, bool):
                raise _ProtocolError("'resume.checkpoint' must be true or false")
            if has and not self.restored:
                raise _ProtocolError("resume from a checkpoint: send it in restore requests first")
            if not type(self.task).resumable():
                raise _ProtocolError(
                    f"{type(self.task).__name__} keeps no checkpoints: it cannot resume"
                )
            checkpoint = bytes(self.restored) if has else None
            self.restored = bytearray()
            resume_from = self.task.resume  # type: ignore[attr-defined]
            step, failed = self._run(lambda: resume_from(checkpoint, started))
        if failed is not None:
            return failed
        return self._step_reply(step, "start")

    def _restore(self, request: dict[str, Any]) -> dict[str, Any]:
        data = _binary(request.get("data"), "'data'")
        self.restored += data
        return {"ok": True, "bytes": len(self.restored)}

    def _checkpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        part = request.get("part")
        if not isinstance(part, int) or isinstance(part, bool) or part < 0:
            raise _ProtocolError("'part' must be a non-negative integer")
        if part == 0:
            value, failed = self._run(self.task.checkpoint)
            if failed is not None:
                return failed
            if value is not None and not isinstance(value, bytes | bytearray):
                return {
                    "ok": False,
                    "kind": "task",
                    "error": f"checkpoint() must return bytes or None, not {type(value).__name__}",
                }
            self.checkpointed = bytes(value) if value is not None else b""
        parts = -(-len(self.checkpointed) // CHECKPOINT_PART)
        if parts == 0:
            return {"ok": True, "parts": 0}
        if part >= parts:
            raise _ProtocolError(f"the checkpoint has {parts} parts, not {part + 1}")
        chunk = self.checkpointed[part * CHECKPOINT_PART : (part + 1) * CHECKPOINT_PART]
        return {"ok": True, "data": chunk, "parts": parts}

    def _map(self, request: dict[str, Any]) -> dict[str, Any]:
        step = self._parse_step(request.get("step"), reuse=False)
        if self.frame is None:
            raise _ProtocolError("this runner has no dataset (it was started without --dataset)")
        frame = self.frame.copy(deep=False)

        def call() -> bytes:
            return flatten(step, self.task.map(step, frame))

        data, failed = self._run(call)
        if failed is not None:
            return failed
        return {"ok": True, "values": data}

    def _reduce(self, request: dict[str, Any]) -> dict[str, Any]:
        step = self._parse_step(request.get("step"), reuse=True)
        raw = _binary(request.get("sums"), "'sums'")
        if len(raw) != sums_length(step):
            raise _ProtocolError(
                f"'sums' holds {len(raw)} bytes; the step's outputs need {sums_length(step)}"
            )
        members = request.get("members")
        if not isinstance(members, int) or isinstance(members, bool) or members < 1:
            raise _ProtocolError("'members' must be a positive integer")
        sums = unflatten(step, raw)
        outcome, failed = self._run(lambda: self.task.reduce(step, sums, members))
        if failed is not None:
            return failed
        if isinstance(outcome, Done):
            try:
                return {"ok": True, "done": _wire.encode(outcome.value)}
            except (TypeError, ValueError) as exc:
                return {
                    "ok": False,
                    "kind": "task",
                    "error": f"the result cannot be sent: {_text(exc)}",
                }
        return self._step_reply(outcome, "reduce")

    # -- steps

    def _step_reply(self, step: Any, what: str) -> dict[str, Any]:
        if not isinstance(step, Step):
            name = "Step" if what == "start" else "Step or Done"
            return {
                "ok": False,
                "kind": "task",
                "error": f"{what}() must return a {name}, not {type(step).__name__}",
            }
        try:
            outputs = step.specs()
        except (AttributeError, TypeError, ValueError) as exc:
            return {"ok": False, "kind": "task", "error": f"step {step.name!r}: {_text(exc)}"}
        for name, _ in outputs:
            if not isinstance(name, str) or not name:
                return {
                    "ok": False,
                    "kind": "task",
                    "error": f"step {step.name!r}: output names must be non-empty strings",
                }
        body, failed = self._run(step.body)
        if failed is not None:
            failed["error"] = f"step {step.name!r}: its params are not JSON: {failed['error']}"
            return failed
        privacy = getattr(step, "privacy", None)
        if privacy is not None and not isinstance(privacy, Privacy):
            return {
                "ok": False,
                "kind": "task",
                "error": f"step {step.name!r}: privacy must be a delta.Privacy or None",
            }
        self.steps = {body: step}
        wire: dict[str, Any] = {
            "dataset": self.dataset,
            "body": body,
            "outputs": [_output_json(name, o) for name, o in outputs],
        }
        if privacy is not None:
            wire["privacy"] = privacy.wire()
        return {"ok": True, "step": wire}

    def _parse_step(self, value: Any, reuse: bool) -> Step:
        body, outputs, privacy = _step_parts(value)
        known = self.steps.get(body) if reuse else None
        if known is not None and known.specs() == list(outputs.items()):
            # The requester's own Step object, as it returned it.
            return known
        return _step_from_parts(body, outputs, privacy)


def reply_parts(reply: Mapping[str, Any]) -> list[bytes]:
    """A reply as the protocol carries it (`message_parts`); a reply that
    strict JSON cannot hold becomes a "task" failure saying why."""
    try:
        return message_parts(reply)
    except (TypeError, ValueError) as exc:
        return message_parts(
            {"ok": False, "kind": "task", "error": f"the reply cannot be sent: {exc}"}
        )


def reply_line(reply: Mapping[str, Any]) -> bytes:
    """`reply_parts` as one byte string."""
    return b"".join(reply_parts(reply))


def step_from_wire(value: Any) -> Step:
    """A STEP as a member's runner reads it (see the module docs); raises
    `ValueError` saying what is malformed."""
    try:
        return _step_from_parts(*_step_parts(value))
    except _ProtocolError as exc:
        raise ValueError(str(exc)) from None


def _step_parts(value: Any) -> tuple[bytes, dict[str, Output], Privacy | None]:
    """A STEP's body, outputs and privacy, checked."""
    if not isinstance(value, dict):
        raise _ProtocolError("'step' must be an object with dataset, body and outputs")
    missing = {"dataset", "body", "outputs"} - set(value)
    if missing:
        raise _ProtocolError(f"'step' has no {', '.join(sorted(missing))}")
    if not isinstance(value["dataset"], str):
        raise _ProtocolError("the step's 'dataset' must be a string")
    body = _binary(value["body"], "the step's 'body'")
    outputs_value = value["outputs"]
    shape_error = (
        "the step's 'outputs' must be a list of [name, dtype, shape] or [name, dtype, shape, bound]"
    )
    if not isinstance(outputs_value, list):
        raise _ProtocolError(shape_error)
    outputs: dict[str, Output] = {}
    for item in outputs_value:
        if (
            not isinstance(item, list)
            or len(item) not in (3, 4)
            or not isinstance(item[0], str)
            or item[1] not in DTYPES
            or not isinstance(item[2], list)
        ):
            raise _ProtocolError(shape_error)
        if item[0] in outputs:
            raise _ProtocolError(f"the step names output {item[0]!r} twice")
        try:
            outputs[item[0]] = Output(tuple(item[2]), item[1], item[3] if len(item) == 4 else None)
        except ValueError as exc:
            raise _ProtocolError(f"output {item[0]!r}: {exc}") from None
    return body, outputs, _privacy_from_wire(value.get("privacy"))


def _privacy_from_wire(value: Any) -> Privacy | None:
    """A step's `privacy` object (`Privacy.wire()`), or None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"clip", "noise_multiplier", "delta"}:
        raise _ProtocolError("the step's 'privacy' must be {clip, noise_multiplier, delta}")
    try:
        return Privacy(value["clip"], value["noise_multiplier"], value["delta"])
    except ValueError as exc:
        raise _ProtocolError(f"the step's privacy: {exc}") from None


def _output_json(name: str, output: Output) -> list[Any]:
    """An output as the protocol carries it: `[name, dtype, shape]`, and
    its bound fourth when it has one."""
    item: list[Any] = [name, output.dtype, list(output.shape)]
    if output.bound is not None:
        item.append(output.bound)
    return item


def _step_from_parts(
    body: bytes, outputs: dict[str, Output], privacy: Privacy | None = None
) -> Step:
    """The Step a body (`{"name", "params"}` JSON, then a NUL byte and the
    step's data if it has any) and outputs describe."""
    head, _, data = body.partition(b"\0")
    try:
        decoded = json.loads(head)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _ProtocolError(f"the step's body is not JSON: {exc}") from None
    if (
        not isinstance(decoded, dict)
        or set(decoded) != {"name", "params"}
        or not isinstance(decoded["name"], str)
        or not isinstance(decoded["params"], dict)
    ):
        raise _ProtocolError('the step\'s body must be {"name": str, "params": object}')
    return Step(decoded["name"], outputs, decoded["params"], privacy, data)


# -- the command line -----------------------------------------------------------------


def _send(stream: IO[bytes], message: Mapping[str, Any]) -> None:
    stream.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
    stream.flush()


def _take_stdout() -> IO[bytes]:
    """Keeps the real stdout for the protocol and points fd 1 and
    `sys.stdout` at stderr, so nothing the task prints can reach it."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb")


def package_error(exc: BaseException) -> str:
    """The message of a "package" failure: why the package or its task
    could not be loaded."""
    if isinstance(exc, (PackageError, TaskRejected, DatasetError)):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot read the package file: {exc.strerror or exc}"
    where = _where(exc)
    text = _text(exc)
    if isinstance(exc, SandboxViolation) or _violation(exc) is not None:
        violation = _violation(exc)
        text = str(violation) if violation is not None else text
    return f"the task failed while loading: {text}" + (f" (at {where})" if where else "")


def _load_request(line: bytes) -> tuple[TaskPackage | None, str | None, int]:
    """The package a `load` request carries, or why it is refused, and
    its optional `min_cell_rows` (the holder's policy, an integer >= 0; 0
    when absent: the worker writes it)."""
    try:
        request = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None, "the first request is not JSON", 0
    if not isinstance(request, dict) or request.get("op") != "load":
        return None, 'the first request must be {"op": "load", "package": ..., "digest": ...}', 0
    least = request.get("min_cell_rows", 0)
    if isinstance(least, bool) or not isinstance(least, int) or least < 0:
        return None, f"min_cell_rows must be an integer >= 0, not {least!r}", 0
    text = request.get("digest")
    try:
        digest = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        digest = b""
    if len(digest) != 32:
        return None, f"digest must be the package's SHA-256 in hex (64 digits), not {text!r}", 0
    try:
        raw = _binary(request.get("package"), "package")
        return load_package(raw, expected_digest=digest), None, least
    except _ProtocolError as exc:
        return None, str(exc), 0
    except (PackageError, TaskRejected) as exc:
        return None, package_error(exc), 0


def serve(args: argparse.Namespace) -> int:
    protocol = _take_stdout()
    sys.dont_write_bytecode = True
    frame = None
    if args.dataset is not None:
        import pandas as pd

        try:
            frame = pd.read_parquet(args.dataset)
        except Exception as exc:  # pyarrow's and the OS's errors
            _send(
                protocol,
                {
                    "ok": False,
                    "kind": "dataset",
                    "error": f"cannot read the dataset {args.dataset}: {_text(exc)}",
                },
            )
            return EXIT_DATASET

    scratch = Path(args.scratch)
    if not scratch.is_dir():
        _send(
            protocol,
            {"ok": False, "kind": "setup", "error": f"the scratch folder {scratch} does not exist"},
        )
        return EXIT_SETUP
    # Loaded before the hook: tasks use them, and their first import reads
    # the system (CPU features, memory pools) in ways a task never should.
    for name in ("numpy", "pandas", "pyarrow"):
        importlib.import_module(name)

    # A learning task's requester reports each round on stderr, which the
    # worker keeps as the task's log.
    from . import learning

    learning.REPORT_PROGRESS = True
    os.chdir(scratch)
    sandbox = Sandbox(scratch, Sandbox.python_roots(), protected_fds={0, protocol.fileno()})
    sandbox.install()
    # Idle until a task is assigned: everything above is the start-up cost
    # a worker pays before a round, not in it.
    _send(protocol, {"ok": True, "idle": True, "protocol": PROTOCOL})
    line = sys.stdin.buffer.readline()
    if not line:
        return 0
    package, refused, min_cell_rows = _load_request(line)
    if package is None:
        _send(protocol, {"ok": False, "kind": "package", "error": refused})
        return EXIT_PACKAGE
    try:
        preload(str(package.manifest.get("kind", "")), sandbox)
    except Exception as exc:  # torch's own import failed (memory, libraries)
        traceback.print_exception(exc, file=sys.stderr)
        error = f"cannot import what a {package.manifest.get('kind')} task needs: {_text(exc)}"
        _send(protocol, {"ok": False, "kind": "package", "error": error})
        return EXIT_PACKAGE
    try:
        task = member_task(package, min_cell_rows) if frame is not None else load_task(package)
    except BaseException as exc:  # task code ran: anything may come out
        traceback.print_exception(exc, file=sys.stderr)
        _send(protocol, {"ok": False, "kind": "package", "error": package_error(exc)})
        return EXIT_PACKAGE
    sandbox.take_refusals()
    _send(protocol, {"ok": True, "ready": True, "protocol": PROTOCOL})
    Server(task, package, frame, sandbox).serve(sys.stdin.buffer, protocol)
    return 0


def prepare_command(args: argparse.Namespace) -> int:
    try:
        spec = json.loads(Path(args.spec).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        message = f"cannot read the dataset spec {args.spec}: {exc}"
        print(json.dumps({"ok": False, "error": message}), flush=True)
        return 0
    try:
        report = prepare(spec, Path(args.out))
    except DatasetError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
        return 0
    print(json.dumps({"ok": True, **report}, allow_nan=False), flush=True)
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_SETUP, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="python3 -I -m delta._runner",
        description="Runs a data holder's dataset preparation or a task, for delta-worker.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="read and clean a dataset into Parquet")
    p.add_argument("--spec", required=True, help="the dataset's spec (JSON file)")
    p.add_argument("--out", required=True, help="where to write the cleaned Parquet file")
    s = commands.add_parser(
        "serve", help="start, load the task package sent on stdin and answer protocol requests"
    )
    s.add_argument("--scratch", required=True, help="the task's scratch folder")
    s.add_argument("--dataset", help="the cleaned dataset (Parquet) for map requests")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return prepare_command(args)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
