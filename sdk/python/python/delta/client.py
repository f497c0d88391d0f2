"""`delta.Client`: submit tasks to a Delta network through a worker's API
and collect their results.

A requester talks to one worker (its own node, or one it is allowed to
use) over JSON-RPC 2.0 on HTTP, authenticated by a bearer token the worker
was configured with. The worker announces the task to the network, runs the
requester's `reduce` in its sandbox, and keeps the result::

    import delta

    client = delta.Client("http://127.0.0.1:9955", token="...")  # or DELTA_TOKEN
    print(client.datasets())
    handle = client.submit(MeanAge, min_members=3)
    result = handle.wait()  # progress bar, task log, then the result

Only the standard library speaks HTTP here (`urllib`), so the SDK needs no
extra dependency. Results arrive as JSON (`delta._wire`), never as pickle.

The worker's methods (params are JSON objects):

- `delta_submit` {package: base64 of `TaskPackage.to_bytes()`, min_members,
  members, threshold} -> {id}
- `delta_status` {id} -> {id, state: running|done|failed, ledger_task,
  round, rounds, progress, error, created_ms, finished_ms}
- `delta_list` {} -> [status, ...]
- `delta_result` {id} -> {result} (errors -32010 not finished, -32011
  failed, -32004 unknown task)
- `delta_logs` {id, from} -> {lines: [{seq, ms, line}], next}
- `delta_events` {id, from} -> {events: [{seq, ms, event, ...}], next}
- `delta_datasets` {} -> [{name, columns: [{name, type, shape?, levels?}], version, rows,
  sha256, prepared_ms, privacy}]
- `delta_policy` {} -> {requesters, code_requesters, min_members, min_rows, max_rounds,
  min_cell_rows, max_values_per_step, rows_per_value}
- `delta_members` {} -> [{account, name, endpoint, peer_id, this_worker}]
"""

from __future__ import annotations

import base64
import html
import importlib
import itertools
import json
import math
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import _wire
from .debug import TaskFailed
from .learning import parse_progress
from .mapreduce import MapReduce
from .package import TaskPackage, package_task, with_levels

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ERROR_FAILED",
    "ERROR_NOT_FINISHED",
    "ERROR_UNKNOWN_TASK",
    "Client",
    "ClientError",
    "TaskHandle",
    "TaskStatus",
]

ERROR_NOT_FINISHED = -32010
ERROR_FAILED = -32011
ERROR_UNKNOWN_TASK = -32004

DEFAULT_TIMEOUT = 30.0
"""Seconds one HTTP request may take (not the task: see `TaskHandle.wait`)."""

POLL_INTERVAL = 0.2

UNREACHABLE_GRACE = 180.0
"""Seconds `TaskHandle.wait` keeps polling a worker that does not answer
(restarting: a learning task resumes from its checkpoint) before it gives
up with the connection error."""
"""Seconds between status polls while waiting."""

TOKEN_ENV = "DELTA_TOKEN"
URL_ENV = "DELTA_URL"
"""Where `Client()` without arguments connects and with which token: set
in Deltaboard's JupyterLab to the person's own API address and token."""


class ClientError(Exception):
    """The worker's API could not be reached or refused a call. `code` is
    the HTTP status (401) or the JSON-RPC error code, or None when no
    answer came."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class TaskStatus:
    """Where a submitted task stands, as the worker reports it."""

    id: str
    state: str
    """"running", "done" or "failed"."""
    ledger_task: int | None
    """The task's number on the ledger, once announced."""
    round: int
    """The round in progress, or the last one, counted from 0 (as the log
    names rounds)."""
    rounds: int
    """The task's maximum number of rounds (`max_rounds`), not the number
    it will run: see `TaskHandle.planned_rounds`."""
    progress: list[str]
    error: str | None
    created_ms: int
    finished_ms: int | None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @classmethod
    def from_json(cls, obj: Any) -> TaskStatus:
        """Reads a status object, refusing one with missing or mistyped
        fields (a worker of another version, or not a worker)."""
        if not isinstance(obj, dict):
            raise ClientError(f"the worker sent a malformed task status: {obj!r:.200}")

        def field(name: str, kinds: tuple[type, ...], optional: bool = False) -> Any:
            value = obj.get(name)
            if value is None and optional:
                return None
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise ClientError(f"the worker sent a task status with a bad {name!r}: {value!r}")
            return value

        progress = obj.get("progress", [])
        if not isinstance(progress, list) or not all(isinstance(p, str) for p in progress):
            raise ClientError("the worker sent a task status with a bad 'progress'")
        return cls(
            id=field("id", (str,)),
            state=field("state", (str,)),
            ledger_task=field("ledger_task", (int,), optional=True),
            round=field("round", (int,)),
            rounds=field("rounds", (int,)),
            progress=list(progress),
            error=field("error", (str,), optional=True),
            created_ms=field("created_ms", (int,)),
            finished_ms=field("finished_ms", (int,), optional=True),
        )


def _given_or_env(value: str | None, env: str, missing: str, what: str) -> str:
    """`value`, else the environment variable `env`; neither is an error."""
    if value is None:
        value = os.environ.get(env)
    if not value:
        raise ClientError(f"{missing}: pass Client(url, token=...) or set {env} to {what}")
    return value


class Client:
    """A connection to one worker's API.

    `url` is the worker's API address (`http://host:port`, or a person's
    address on a Deltaboard), by default from the `DELTA_URL` environment
    variable; `token` its bearer token, by default from `DELTA_TOKEN`.
    `timeout` bounds each HTTP request, in seconds.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        url = _given_or_env(
            url, URL_ENV, "no API address", "the worker's (or your Deltaboard's) API address"
        )
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ClientError(f"{url!r} is not a worker API address such as http://host:9955")
        token = _given_or_env(
            token, TOKEN_ENV, "no API token", "the token the worker's operator gave you"
        )
        self.url = url
        self.timeout = timeout
        self._token = token
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"  # never the token

    # -- JSON-RPC

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Calls one API method and returns its result; raises
        `ClientError` for transport, HTTP and JSON-RPC errors."""
        request_id = next(self._ids)
        body = json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}},
            separators=(",", ":"),
        ).encode("utf-8")
        raw = self._post(body)
        try:
            answer = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ClientError(
                f"the server at {self.url} did not answer with JSON-RPC ({exc}): is it a "
                "delta-worker API?"
            ) from None
        if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
            raise ClientError(f"the server at {self.url} did not answer with JSON-RPC 2.0")
        error = answer.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            code = code if isinstance(code, int) else None
            text = message if isinstance(message, str) and message else "unknown error"
            hint = " (is this a delta-worker API of a matching version?)" if code == -32601 else ""
            raise ClientError(f"{method}: {text} (JSON-RPC error {code}){hint}", code)
        if answer.get("id") != request_id:
            raise ClientError(f"{method}: the worker answered another request (id mismatch)")
        if "result" not in answer:
            raise ClientError(f"{method}: the worker's answer has neither result nor error")
        return answer["result"]

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {self._token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise ClientError(
                    f"the worker refused the token (HTTP 401 from {self.url}): check "
                    f"{TOKEN_ENV} or the token passed to Client",
                    401,
                ) from None
            detail = _body_text(exc)
            raise ClientError(
                f"the worker API at {self.url} answered HTTP {exc.code} {exc.reason}"
                + (f": {detail}" if detail else ""),
                exc.code,
            ) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise ClientError(
                    f"the worker API at {self.url} did not answer within {self.timeout} s"
                ) from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise ClientError(f"no worker API at {self.url}: {text}") from None
        except TimeoutError:
            raise ClientError(
                f"the worker API at {self.url} did not answer within {self.timeout} s"
            ) from None
        except (OSError, HTTPException) as exc:
            raise ClientError(f"the connection to {self.url} failed: {exc}") from None

    # -- methods

    def submit(
        self,
        task: type[MapReduce] | MapReduce | TaskPackage,
        *,
        min_members: int | None = None,
        members: Sequence[str] | None = None,
        threshold: int | None = None,
        phase_timeout_s: int | None = None,
        compute_timeout_s: int | None = None,
        extra_files: Sequence[str | Path] = (),
        kind: str | None = None,
        ring_bits: int | None = None,
        fractional_bits: int | None = None,
    ) -> TaskHandle:
        """Submits a task and returns its handle.

        `task` is a `MapReduce`/`Analytics` subclass, an instance of one
        (its class is what travels: members create their own instance with
        no arguments, so state set on this instance does not), or a
        `TaskPackage`. `extra_files` and `kind` are passed to
        `package_task` (`kind` defaults to the class's `task_kind`:
        "horizontal_learning" for a `HorizontalLearning` task,
        "statistics" otherwise). `min_members`: fewest members the task may run
        with; `members`: the workers (ss58 accounts) to ask, by default
        every registered one; `threshold`: the secret-sharing threshold;
        `phase_timeout_s`: how long each round phase waits for slow or
        failed members (the worker's default is 30 s);
        `compute_timeout_s`: how long the Compute phase, which holds every
        member's `map`, may take (default `phase_timeout_s`): give a task
        whose `map` runs long its time here, or members whose map finishes
        late are dropped from the round (the requester's log names them and
        they say why). `ring_bits` (32, 64 or 128; default 64) and
        `fractional_bits` (default 24) set the fixed-point encoding of the
        sums as `delta.debug` takes them; outputs that declare a `bound`
        get their precision from it instead, and a step whose outputs are
        all tightly bounded is summed in the 32-bit ring (half the bytes)
        unless `ring_bits` asks for another.
        """
        planned: int | None = None
        if isinstance(task, TaskPackage):
            package = task
        elif isinstance(task, MapReduce) or (
            isinstance(task, type) and issubclass(task, MapReduce)
        ):
            task_class = task if isinstance(task, type) else type(task)
            package = package_task(task_class, extra_files=extra_files, kind=kind)
            levels = self._published_levels(task_class, package)
            if levels:
                package = with_levels(package, levels)
            planned = _planned_rounds(task_class, levels)
        else:
            raise TypeError(
                "submit takes a MapReduce or Analytics subclass, an instance of one, or a "
                f"TaskPackage, not {type(task).__name__}"
            )
        for name, value in (
            ("min_members", min_members),
            ("threshold", threshold),
            ("phase_timeout_s", phase_timeout_s),
            ("compute_timeout_s", compute_timeout_s),
        ):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer or None")
        if ring_bits is not None and (
            isinstance(ring_bits, bool) or ring_bits not in (32, 64, 128)
        ):
            raise ValueError(f"ring_bits must be 32, 64, 128 or None, not {ring_bits!r}")
        if fractional_bits is not None and (
            not isinstance(fractional_bits, int)
            or isinstance(fractional_bits, bool)
            or fractional_bits < 0
        ):
            raise ValueError(
                f"fractional_bits must be an integer >= 0 or None, not {fractional_bits!r}"
            )
        if members is not None:
            if isinstance(members, str) or not all(isinstance(m, str) and m for m in members):
                raise ValueError("members must be a list of worker accounts (ss58) or None")
            members = list(members)
        result = self.call(
            "delta_submit",
            {
                "package": base64.b64encode(package.to_bytes()).decode("ascii"),
                "min_members": min_members,
                "members": members,
                "threshold": threshold,
                "phase_timeout_s": phase_timeout_s,
                "compute_timeout_s": compute_timeout_s,
                "ring_bits": ring_bits,
                "fractional_bits": fractional_bits,
            },
        )
        task_id = result.get("id") if isinstance(result, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ClientError(f"delta_submit: the worker answered without a task id: {result!r}")
        return TaskHandle(self, task_id, planned_rounds=planned)

    def _published_levels(
        self, task_class: type[MapReduce], package: TaskPackage
    ) -> dict[str, list[Any]]:
        """For an analytics task: the category levels this worker's holder
        declared for the task's dataset (`delta_datasets`), for columns the
        task does not declare itself; members hold the same schema. Empty
        when the worker does not offer the dataset."""
        from .analytics import Analytics

        if not issubclass(task_class, Analytics):
            return {}
        names = set(package.datasets())
        levels: dict[str, list[Any]] = {}
        for dataset in self.datasets():
            if dataset.get("name") not in names:
                continue
            for column in dataset.get("columns") or []:
                name, given = column.get("name"), column.get("levels")
                if isinstance(name, str) and isinstance(given, list) and given:
                    levels.setdefault(name, given)
        return {k: v for k, v in levels.items() if k not in task_class.levels}

    def task(self, task_id: str, planned_rounds: int | None = None) -> TaskHandle:
        """The handle of a task submitted earlier (see `tasks()`); the worker
        does not know how many rounds it plans, so pass `planned_rounds`
        (`TaskHandle.planned_rounds` of the submit) for the progress bar."""
        return TaskHandle(self, task_id, planned_rounds=planned_rounds)

    def tasks(self) -> list[TaskStatus]:
        """Every task this worker holds for its requesters, newest first."""
        result = self.call("delta_list")
        if not isinstance(result, list):
            raise ClientError("delta_list: the worker did not answer with a list")
        return [TaskStatus.from_json(item) for item in result]

    def datasets(self) -> list[dict[str, Any]]:
        """The datasets the worker offers: `[{"name", "columns": [{"name",
        "type"}]}]`; tasks see only these columns. A category column also
        has its `levels`, a numeric column its declared bounds `min` and
        `max` (the holder's rules, never values seen), an image folder's
        `image` column its `shape`
        ([height, width, channels]). Each dataset also says which snapshot
        it serves: `version` (1 at the worker's start, one more per
        refresh), `rows`, `sha256` and `prepared_ms`."""
        result = self.call("delta_datasets")
        if not isinstance(result, list) or not all(isinstance(d, dict) for d in result):
            raise ClientError("delta_datasets: the worker did not answer with a list of datasets")
        return result

    def policy(self) -> dict[str, Any]:
        """The holder's policy at this worker, what its members check each
        task against: `requesters` and `code_requesters` (`"*"` or a list
        of accounts), `min_members`, `min_rows`, `max_rounds`,
        `min_cell_rows`, `max_values_per_step`, `rows_per_value`."""
        result = self.call("delta_policy")
        if not isinstance(result, dict):
            raise ClientError("delta_policy: the worker did not answer with a policy")
        return result

    def members(self) -> list[dict[str, Any]]:
        """The network's registered members, as the ledger lists them:
        `[{"account", "name", "endpoint", "peer_id", "this_worker"}]` (the
        worker's own record has `this_worker` true). Who may be asked to
        join a task; nothing about their data."""
        result = self.call("delta_members")
        if not isinstance(result, list) or not all(isinstance(m, dict) for m in result):
            raise ClientError("delta_members: the worker did not answer with a list of members")
        return result

    def privacy_spent(
        self, dataset: str, holder: str | None = None, requester: str | None = None
    ) -> float:
        """The ε `requester` has spent on `holder`'s `dataset`, as the
        ledger's privacy charges add up (each holder charges its ledger
        record before a noised contribution leaves it, and refuses tasks
        past its budget). Both default to the worker's own account: what
        this worker's tasks have spent at itself. Accounts are SS58."""
        params: dict[str, Any] = {"dataset": dataset}
        if holder is not None:
            params["holder"] = holder
        if requester is not None:
            params["requester"] = requester
        answer = self.call("delta_privacySpent", params)
        if not isinstance(answer, dict) or not isinstance(answer.get("epsilon"), int | float):
            raise ClientError("delta_privacySpent: the worker sent a malformed answer")
        return float(answer["epsilon"])


class TaskHandle:
    """A submitted task: its status, its log, and its result.

    `planned_rounds` is how many rounds the task expects to run (from
    `MapReduce.planned_rounds` at submit: an `Analytics` query knows it
    from its plan), or None when unknown; the progress bar counts against
    it rather than against the task's `max_rounds`."""

    def __init__(self, client: Client, task_id: str, *, planned_rounds: int | None = None) -> None:
        self.client = client
        self.id = task_id
        self.planned_rounds = planned_rounds
        self._next_log = 0
        self._result: tuple[Any] | None = None
        self._rounds: dict[int, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"TaskHandle({self.id!r})"

    def status(self) -> TaskStatus:
        return TaskStatus.from_json(self.client.call("delta_status", {"id": self.id}))

    def logs(self) -> list[str]:
        """Log lines added since the previous call (the first call returns
        the log from its start)."""
        answer = self.client.call("delta_logs", {"id": self.id, "from": self._next_log})
        if not isinstance(answer, dict) or not isinstance(answer.get("lines"), list):
            raise ClientError("delta_logs: the worker sent a malformed answer")
        lines: list[str] = []
        for entry in answer["lines"]:
            if isinstance(entry, dict) and isinstance(entry.get("line"), str):
                lines.append(entry["line"])
                row = parse_progress(entry["line"])
                if row is not None:
                    self._rounds[int(row["round"])] = row
        following = answer.get("next")
        if isinstance(following, int) and not isinstance(following, bool):
            self._next_log = following
        return lines

    def history(self) -> pd.DataFrame:
        """A learning task's rounds so far, one row per round (the columns
        of `LearningResult.history`), from the requester's log: readable
        while the task trains. Empty for other tasks."""
        import pandas as pd

        self.logs()
        rows = [
            {k: v for k, v in self._rounds[r].items() if k != "planned"}
            for r in sorted(self._rounds)
        ]
        return pd.DataFrame(rows)

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """What happened in the task, typed, from event `since` on: each a
        dict with `event` (`task_created`, `round_started`,
        `members_joined`, `declined`, `refused`, `masked_inputs`,
        `dropped`, `unmasked`, `done`, `failed`), its fields (`round`,
        `member`, `members`, `reason`, `kind`, ...), `seq` and `ms`."""
        events: list[dict[str, Any]] = []
        following = since
        while True:
            answer = self.client.call("delta_events", {"id": self.id, "from": following})
            if not isinstance(answer, dict) or not isinstance(answer.get("events"), list):
                raise ClientError("delta_events: the worker sent a malformed answer")
            page = [e for e in answer["events"] if isinstance(e, dict) and "event" in e]
            events.extend(page)
            nxt = answer.get("next")
            if not page or not isinstance(nxt, int) or isinstance(nxt, bool) or nxt <= following:
                return events
            following = nxt

    def privacy(self) -> dict[str, Any] | None:
        """What the task's differentially private steps spent, from its
        events: `epsilon` at `delta` after the last private round, and each
        round's noise (`rounds`: round, `std` of the noise in each value,
        clip, noise multiplier, ε so far). None for a task without DP."""
        from .debug import privacy_summary

        return privacy_summary([e for e in self.events() if e.get("event") == "noised"])

    def result(self) -> Any:
        """The task's result, decoded; raises `TaskFailed` if the task
        failed and `ClientError` (code -32010) if it has not finished."""
        if self._result is not None:
            return self._result[0]
        try:
            answer = self.client.call("delta_result", {"id": self.id})
        except ClientError as exc:
            if exc.code == ERROR_FAILED:
                raise self._failed() from None
            if exc.code == ERROR_NOT_FINISHED:
                raise ClientError(
                    f"task {self.id} has not finished: call wait() or check status()",
                    exc.code,
                ) from None
            if exc.code == ERROR_UNKNOWN_TASK:
                raise ClientError(f"the worker has no task {self.id}", exc.code) from None
            raise
        if not isinstance(answer, dict) or "result" not in answer:
            raise ClientError("delta_result: the worker sent a malformed answer")
        try:
            value = _wire.decode(answer["result"])
        except _wire.WireError as exc:
            raise ClientError(f"the result of task {self.id} cannot be decoded: {exc}") from None
        self._result = (value,)
        return value

    def _failed(self, status: TaskStatus | None = None) -> TaskFailed:
        if status is None:
            try:
                status = self.status()
            except ClientError:
                status = None
        reason = (status.error if status is not None else None) or "the task failed"
        progress = list(status.progress) if status is not None else []
        return TaskFailed(reason, progress, [])

    def wait(
        self,
        timeout: float | None = None,
        progress: bool = True,
        *,
        interval: float = POLL_INTERVAL,
    ) -> Any:
        """Waits for the task and returns its result.

        Polls the status and the log every `interval` seconds; with
        `progress`, prints new log lines and a progress bar ("round 2 of
        3" against `planned_rounds`, "round 2 (at most 32)" when that is
        unknown): one updating line on stderr in a terminal, an
        updating display in Jupyter, plain lines otherwise. Raises
        `TaskFailed` (with the reason and the progress log) if the task
        fails, and `TimeoutError` after `timeout` seconds (the task keeps
        running; wait again or check `status()`). A worker that stops
        answering (restarting) is polled on for `UNREACHABLE_GRACE`
        seconds before its `ClientError` is raised.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        display = _Progress(self.id, planned_rounds=self.planned_rounds) if progress else None
        unreachable_since: float | None = None
        try:
            while True:
                try:
                    status = self.status()
                    lines = self.logs() if display is not None else []
                except ClientError as exc:
                    if exc.code is not None:
                        raise
                    now = time.monotonic()
                    if unreachable_since is None:
                        unreachable_since = now
                        if display is not None:
                            display.log(f"{exc.message}; polling on (a restarting worker resumes)")
                    if now - unreachable_since > UNREACHABLE_GRACE:
                        raise
                    if deadline is not None and now >= deadline:
                        raise
                    time.sleep(max(interval, 1.0))
                    continue
                unreachable_since = None
                if display is not None:
                    for line in lines:
                        row = parse_progress(line)
                        if row is None:
                            display.log(line)
                        else:
                            display.learning(row, self._rounds)
                    display.update(status)
                if status.state == "done":
                    return self.result()
                if status.state == "failed":
                    raise self._failed(status)
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    where, _, _ = _rounds_text(status, self.planned_rounds)
                    raise TimeoutError(
                        f"task {self.id} did not finish within {timeout} s ({where}, "
                        f"{status.state}); it keeps running: wait() again or check status()"
                    )
                pause = interval if deadline is None else min(interval, deadline - now)
                time.sleep(max(pause, 0.0))
        finally:
            if display is not None:
                display.close()


def _planned_rounds(
    task_class: type[MapReduce], levels: dict[str, list[Any]] | None = None
) -> int | None:
    """The task's own count of the rounds it plans (with the published
    `levels`), for the progress bar. Task code is the requester's own
    here, and a task whose planning fails fails on the worker with the
    full reason; the bar only loses its count, so any error means
    unknown."""
    from .analytics import Analytics

    try:
        instance = task_class()
        if levels and isinstance(instance, Analytics):
            instance.use_published_levels(levels)
        planned = instance.planned_rounds()
    except Exception:  # any failure: see the docstring
        return None
    if isinstance(planned, int) and not isinstance(planned, bool) and planned > 0:
        return planned
    return None


def _body_text(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(300).decode("utf-8", errors="replace").strip()
    except (OSError, HTTPException, ValueError):
        return ""


# -- progress display -----------------------------------------------------------------


def _in_jupyter() -> bool:
    return "ipykernel" in sys.modules


class _Progress:
    """Shows a task's progress and log where the requester is looking:
    a single updating line on a terminal's stderr, an updating display in
    Jupyter, or plain lines (one per change) in a log file or pipe."""

    BAR = 24

    def __init__(
        self,
        task_id: str,
        stream: IO[str] | None = None,
        *,
        planned_rounds: int | None = None,
    ) -> None:
        self.task_id = task_id
        self.planned_rounds = planned_rounds
        self.stream = stream if stream is not None else sys.stderr
        self.last: str | None = None
        self.drawn = False
        self.handle: Any = None
        self.table: Any = None
        self.ipython: Any = None
        if _in_jupyter():
            try:
                self.ipython = importlib.import_module("IPython.display")
            except ImportError:
                self.ipython = None
        if self.ipython is not None:
            self.mode = "jupyter"
        elif _isatty(self.stream):
            self.mode = "terminal"
        else:
            self.mode = "plain"

    def text(self, status: TaskStatus) -> str:
        where, done, total = _rounds_text(status, self.planned_rounds)
        fraction = done / total if total else 0.0
        filled = int(round(min(max(fraction, 0.0), 1.0) * self.BAR))
        bar = "#" * filled + "." * (self.BAR - filled)
        return f"task {self.task_id}: [{bar}] {where}, {status.state}"

    def log(self, line: str) -> None:
        if self.mode == "jupyter":
            print(line)
            return
        if self.mode == "terminal" and self.drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(line + "\n")
        if self.mode == "terminal" and self.last is not None:
            self.stream.write(self.last)
        self.stream.flush()

    def update(self, status: TaskStatus) -> None:
        text = self.text(status)
        if text == self.last:
            return
        self.last = text
        if self.mode == "jupyter":
            self._jupyter(status, text)
        elif self.mode == "terminal":
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self.drawn = True
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _jupyter(self, status: TaskStatus, text: str) -> None:
        _, done, total = _rounds_text(status, self.planned_rounds)
        markup = self.ipython.HTML(
            f"<progress value='{done}' max='{max(total, 1)}' style='width: 20em'></progress> "
            f"<code>{html.escape(text)}</code>"
        )
        if self.handle is None:
            self.handle = self.ipython.display(markup, display_id=True)
            if self.handle is None:  # IPython without a kernel: no updating handle
                self.mode = "plain"
        else:
            self.handle.update(markup)

    def learning(self, row: dict[str, Any], rounds: dict[int, dict[str, Any]]) -> None:
        """A learning task's round: a line in terminals and logs; in
        Jupyter a table of the rounds so far and a plot of each metric,
        updated in place."""
        if self.mode != "jupyter":
            self.log(_round_text(row))
            return
        markup = self.ipython.HTML(_rounds_html(rounds))
        if self.table is None:
            self.table = self.ipython.display(markup, display_id=True)
            if self.table is None:
                self.mode = "plain"
                self.log(_round_text(row))
        else:
            self.table.update(markup)

    def close(self) -> None:
        if self.mode == "terminal" and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _rounds_text(status: TaskStatus, planned: int | None) -> tuple[str, int, int]:
    """Where the task is, as the bar says it, and the rounds done out of
    how many. Rounds are shown from 1 ("round 2 of 2" in the last of two).
    The fraction is against the planned rounds, since a two-round query
    showing "round 2 of 32" (its `max_rounds`) looks barely started; when
    the plan is unknown, or the task runs past it (members dropped out and
    an analysis started over), the maximum is named as a bound instead. A
    finished task shows the rounds it took."""
    shown = status.round + 1
    if status.state == "done":
        return f"round {shown} of {shown}", shown, shown
    if planned is not None and shown <= planned:
        return f"round {shown} of {planned}", status.round, planned
    bound = max(status.rounds, 0)
    if bound == 0:
        return f"round {shown}", 0, 0
    return f"round {shown} (at most {bound})", status.round, bound


_METRIC_PREFIXES = ("train_", "eval_")


def _metric_names(row: dict[str, Any]) -> list[str]:
    return [k for k in row if k.startswith(_METRIC_PREFIXES)] + (
        ["epsilon"] if _finite(row.get("epsilon")) else []
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _round_text(row: dict[str, Any]) -> str:
    """One round as a log line: `round 3/20: train_loss 0.1234, ...`."""
    parts = [f"{k} {row[k]:.4g}" for k in _metric_names(row) if _finite(row.get(k))]
    members = row.get("members")
    if _finite(members):
        parts.append(f"{int(members)} members")
    if _finite(row.get("seconds")):
        parts.append(f"{row['seconds']:.2f} s")
    planned = row.get("planned")
    of = f"/{planned}" if isinstance(planned, int) else ""
    return f"round {row['round']}{of}: " + ", ".join(parts)


def _rounds_html(rounds: dict[int, dict[str, Any]]) -> str:
    """The rounds so far as an HTML table (the last ten) and one small
    line plot per metric (inline SVG: nothing to install)."""
    ordered = [rounds[r] for r in sorted(rounds)]
    names = _metric_names(ordered[-1]) if ordered else []
    columns = ["round", "members", *names, "seconds"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in ordered[-10:]:
        cells = "".join(f"<td>{_cell(c, row.get(c))}</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    plots = "".join(_sparkline(n, [(r["round"], r.get(n)) for r in ordered]) for n in names)
    return (
        f"<div>{plots}</div><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell(column: str, value: Any) -> str:
    if not _finite(value):
        return ""
    if column in ("round", "members"):
        return str(int(value))
    return f"{value:.4g}"


def _sparkline(name: str, points: list[tuple[int, Any]], width: int = 220, height: int = 90) -> str:
    """An SVG line plot of one metric over the rounds."""
    values = [(x, float(y)) for x, y in points if _finite(y)]
    if not values:
        return ""
    xs, ys = [x for x, _ in values], [y for _, y in values]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = 6

    def at(x: float, y: float) -> str:
        px = pad + (x - x0) / ((x1 - x0) or 1) * (width - 2 * pad)
        py = height - pad - (y - y0) / ((y1 - y0) or 1) * (height - 2 * pad - 14)
        return f"{px:.1f},{py:.1f}"

    line = " ".join(at(x, y) for x, y in values)
    label = html.escape(f"{name}: {ys[-1]:.4g}")
    return (
        f"<svg width='{width}' height='{height}' style='margin-right:8px'>"
        f"<text x='{pad}' y='12' font-size='11'>{label}</text>"
        f"<polyline fill='none' stroke='#1f77b4' stroke-width='1.5' points='{line}'/></svg>"
    )


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
