"""Per-round overhead of horizontal federated learning: Delta's
`delta.debug` beside Flower's simulation and deployment engines, each with
and without SecAgg+.

    python3 scripts/bench_learning.py [--rounds 20] [--members 10]
        [--workloads digits,1m] [--systems delta-debug,flower-sim,flower-sim-secagg]
        (also: delta-workers, flower-deploy, flower-deploy-secagg, flower-sim-legacy)

Every system runs the same federated job: scikit-learn's digits (1,797
rows, pixels / 16) split into `--members` contiguous, even parts; the same
float32 MLP from the same seed (digits: 64-32-10, 2,410 weights; 1m:
64-1024-896-10, 993,930 weights); FedAvg weighted by examples; in every
round each member runs one epoch of minibatch SGD (batch 32, lr 0.1, batch
order seeded by the round) with the same function (`sgd_epoch` in
bench_learning_tasks.py); no evaluation. Systems:

- `delta-debug`: `delta.debug` (always SecAgg+: every round is one secure
  aggregation through the real engine, all members in this one process).
- `delta-workers` (not run by default): the same job submitted with
  `delta.Client` to a `delta-coordinator` and `--members` real
  `delta-worker` processes on loopback, each holding its part as a Parquet
  dataset: the binaries `DELTA_COORDINATOR_BIN` and `DELTA_WORKER_BIN`
  name, else the dev build's; `make bench-learning` passes its release
  build, as an operator deploys them (the dev build keeps most
  dependencies at opt-level 0: its 1M round took 0.59 s where the release
  build's took 0.49).
- `flower-sim`: Flower's simulation engine (Ray) with the Message API it
  recommends (`flwr.serverapp.strategy.FedAvg`, a `ClientApp` train
  function): no secure aggregation.
- `flower-sim-secagg`: the same engine with SecAgg+, which Flower offers
  only in its legacy stack (`DefaultWorkflow(fit_workflow=SecAggPlusWorkflow)`,
  `LegacyContext`, `flwr.server.strategy.FedAvg`, a `NumPyClient` behind
  `secaggplus_mod`), with every member sharing with every other (Delta's
  graph at 10 members) and a majority threshold (Delta's default).
- `flower-sim-legacy` (not run by default): that legacy stack without
  SecAgg+, to tell the protocol's cost from the API's.
- `flower-deploy`: the `flower-sim` job (the same ServerApp and ClientApp)
  through Flower's deployment engine, no Ray: a real `flower-superlink` and
  `--members` real `flower-supernode` processes on 127.0.0.1, all
  `--insecure`, SuperNode i with `--node-config "partition-id=i
  num-partitions=<members>"`; the apps are a temporary Flower App (a
  pyproject.toml whose `[tool.flwr.app.components]` name two small modules
  that import them from this file) submitted with `flwr run <app> bench
  --stream`, `bench` being a SuperLink connection in the config.toml of a
  temporary `FLWR_HOME`. Every listening port is a free one: Flower 1.42
  serves the SuperLink's Fleet, Control and ServerApp runtime (the old
  ServerAppIo) APIs on one HTTP port (`--host`, `--port`), and each
  SuperNode its ClientApp runtime API (the old ClientAppIo) on another.
- `flower-deploy-secagg`: the same with `flower-sim-secagg`'s stack.

The two deployment systems are not run by default: at Flower's default
polling intervals (below) one of their rounds takes 40 s (73 s with
SecAgg+) at 10 members on this machine, so 20 rounds of both workloads
would take over an hour. Name them in `--systems` (`--rounds 5` gives
stable medians).

Flower runs in its own virtual environment, `~/.cache/delta/flower-venv`
(created with `--system-site-packages`, so it sees this Python's torch; made
and filled with pip on the first run), in subprocesses, so its
dependencies never enter this environment. Each system and workload runs
in a fresh process with one thread for torch (`OMP_NUM_THREADS=1`, as a
Delta worker caps learning tasks); Flower's simulation gets one Ray actor
for all clients (`num_cpus` per client = the machine's CPUs, which is also
Flower's default of 2 on a 2-core machine), so in both systems the members
train one after another, on one core each.

In deployment the SuperLink and every SuperNode start a `flower-superexec`,
which starts the ServerApp (`flwr-serverapp`) and, for every message a
SuperNode receives, a fresh `flwr-clientapp` process, which imports flwr,
torch and the member's data again; the members' processes run at once,
sharing the machine's cores. The strategy's round marks (wall clock, as
they cross processes) and the clients' entries go to one log file whose
path these processes inherit. A ClientApp warms torch's SGD path before its
timed training (torch imports `torch._dynamo` at an optimiser's first use,
over a second here), so that train s times the same warm epoch as in the
simulation's rounds 2..R; that cost counts as overhead, with the process's
start. Flower's polling there, all at its defaults: a SuperNode with no
message asks the SuperLink for one every 3 s and checks for its
ClientApp's reply every 0.5 s; each SuperExec asks for a task every 1 s
(`FLWR_SUPEREXEC_TASK_POLL_INTERVAL`); the ServerApp's grid pulls replies
every 3 s; so each exchange costs seconds, one a round without SecAgg+ and
four with it. The SuperLink runs with
`--disable-runtime-dependency-installation` (else each ServerApp `uv
sync`s the app into an environment of its own; SuperNodes do not by
default), and telemetry and the update check are off
(`FLWR_TELEMETRY_ENABLED=0`, `FLWR_DISABLE_UPDATE_CHECK=1`).

What is measured, per system and workload:

- start s: from the call (`delta.debug`, `run_simulation`) to the first
  round's start; Ray starts its actor within round 1, not before.
  Deployment: from `flwr run` (the SuperLink up, every SuperNode
  registered) to the first round's start, the ServerApp's process start
  included.
- round s: the median wall time of rounds 2..R (round 1, reported apart,
  pays start-up: the first model and data in each member, Ray's actor).
  A round's wall time is from the end of the previous round to the end of
  this one as the server/requester sees it: Delta, between the replies of
  the requester process to successive `reduce` requests (round 1 from its
  `start` reply), so it includes encoding the step, the engine, every
  member's map and the requester's reduce; Flower, between the returns of
  the strategy's `aggregate_train` (`aggregate_fit`), round 1 from its
  first `configure_train` (`configure_fit`), in the driver (simulation) or
  in the ServerApp process (deployment).
- train s: the round's training compute, the SUM over members of the time
  of the local training call alone (Delta: `history.member_seconds`, the
  runner's own timing of `train`, times the members; Flower: the same
  `sgd_epoch` call timed with `perf_counter` in the client). The members
  run one after another in both systems, so the sum is the training on the
  round's critical path: the fair stand-in for "the slowest member's
  training time" of a system whose members run in parallel. Flower's
  deployment runs them at once, so there the sum may exceed the wall time
  any member trained, which the JSON gives as `train_union_s` (in the
  simulation, the sum).
- overhead s: the median over rounds 2..R of (round wall time − train s);
  overhead/member ms is that divided by the members: what each member's
  part of a round costs beyond its training (loading weights, masking,
  transfers, scheduling).
- model B: bytes per member per round of the model itself: Delta
  `upload_bytes + download_bytes` from `history` (the masked update in
  Z_2^64 and the step: its JSON params and the weights' bytes); Flower the
  `ArrayRecord`s a client receives and sends plus, under SecAgg+, its masked
  vector (which travels in a `ConfigRecord`).
- all B: bytes per member per round of everything exchanged: Delta the
  engine's messages on the simulated network (`report["bytes"]`: round
  announcements with the step, key shares, masked vectors, unmasking),
  divided by members and rounds; Flower the `count_bytes()` of every record
  of every message in and out of a client, all SecAgg+ stages included.
  Neither counts transport framing (simulation has none; deployment's
  HTTP, protobuf and object-store requests are left out).
- member MB: the peak RSS of the process that hosts the members (Delta: the
  `delta.debug` process, requester and all members in it; Flower: the Ray
  actor that runs the clients; deployment: the largest peak of the
  ClientApp processes, one per message); tree MB: the peak over the run of
  the summed RSS of the whole process tree (Flower: driver, Ray's services
  and actor; deployment: the SuperLink, SuperNodes, their SuperExecs, the
  ServerApp, the ClientApps and the `flwr` CLI), sampled every 0.2 s.
- loss: the example-weighted mean training loss of the last round, to
  check that the systems trained the same model (they agree up to
  fixed-point and quantisation rounding).
- total s: the whole run, start-up included (Ray's start for Flower's
  simulation; for its deployment, from starting the SuperLink to `flwr
  run` returning as the run finishes).

Flower's simulation polls for messages every 0.1 s (its engine's queue
and `InMemoryGrid`'s pull interval, left at their defaults), so its round
times come in steps of about 0.1 s per exchange; SecAgg+ makes four
exchanges a round.

The targets (from the issue): with secure aggregation on both sides,
Delta's overhead at most a third of Flower's (simulation and deployment);
without it, no more than Flower's. Delta always aggregates securely, so
both ratios use delta-debug.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
FLOWER_VENV = Path.home() / ".cache" / "delta" / "flower-venv"
FLOWER_REQUIREMENTS = ("flwr[simulation]==1.42.0", "setuptools>=77.0.3")
"""Pinned: Flower's APIs move between releases. setuptools: the venv's own
is older than the system torch requires, which pip would report."""

WORKLOADS = {"digits": ("DigitsMLP", "DIGITS_SIZES"), "1m": ("MillionMLP", "MILLION_SIZES")}
SYSTEMS = (
    "delta-debug",
    "delta-workers",
    "flower-sim",
    "flower-sim-secagg",
    "flower-sim-legacy",
    "flower-deploy",
    "flower-deploy-secagg",
)
DELTA_SYSTEMS = ("delta-debug", "delta-workers")
DEFAULT_SYSTEMS = "delta-debug,flower-sim,flower-sim-secagg"
FLOWER_STACKS = {
    "flower-sim": "message",
    "flower-sim-secagg": "secagg",
    "flower-sim-legacy": "legacy",
    "flower-deploy": "message",
    "flower-deploy-secagg": "secagg",
}
"""Each Flower system's stack: the Message API, or the legacy one with or
without SecAgg+. `flower-deploy*` run the same apps as `flower-sim*`."""
LOG_ENV = "BENCH_LEARNING_LOG"
MARKS_ENV = "BENCH_LEARNING_MARKS"
"""Set to `log` where the strategy runs in a process Flower spawns (the
deployment's ServerApp): its round marks then also go to the log."""
WARM_UP_ENV = "BENCH_LEARNING_WARM_UP"
"""Set to `1` where every message gets a fresh ClientApp process (the
deployment): each then warms torch's SGD path before its timed training."""
CHILD_TIMEOUT_S = 1200
DEPLOY_START_TIMEOUT_S = 180
"""For the SuperLink to listen and every SuperNode to register."""
DEPLOY_RUN_TIMEOUT_S = CHILD_TIMEOUT_S - 120
"""For `flwr run`: short of the child's, so that the child still stops
every process it started."""


# -- shared ----------------------------------------------------------------------------------


def median_or_nan(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def peak_rss_mb() -> float:
    """This process's peak RSS (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def member_arrays(data: str, members: int, member: int) -> tuple[np.ndarray, np.ndarray]:
    """One member's rows of the prepared digits: (X float32, y int64)."""
    with np.load(data) as saved:
        x, y = saved["x"], saved["y"]
    rows = np.array_split(np.arange(len(y)), members)[member]
    return x[rows], y[rows]


def round_walls(ends: list[float]) -> list[float]:
    """Each round's wall time from the marks [start, end of round 1, ...]."""
    return [b - a for a, b in zip(ends, ends[1:], strict=False)]


def summary(walls: list[float], trains: list[float]) -> dict[str, float]:
    later = list(zip(walls[1:], trains[1:], strict=True))
    return {
        "round1_s": walls[0] if walls else float("nan"),
        "round_s": median_or_nan([w for w, _ in later]),
        "train_s": median_or_nan([t for _, t in later]),
        "overhead_s": median_or_nan([w - t for w, t in later]),
        "round1_overhead_s": walls[0] - trains[0] if walls else float("nan"),
    }


# -- Delta -----------------------------------------------------------------------------------


def tasks_module(rounds: int, scratch: Path) -> types.ModuleType:
    """bench_learning_tasks, or a copy of it with `ROUNDS = rounds` (a task
    travels as its file, so its rounds are in its source)."""
    source = (SCRIPTS / "bench_learning_tasks.py").read_text()
    default = "ROUNDS = 20\n"
    if rounds == 20:
        path = SCRIPTS / "bench_learning_tasks.py"
    else:
        if default not in source:
            raise RuntimeError("bench_learning_tasks.py no longer sets `ROUNDS = 20`")
        path = scratch / "bench_learning_tasks.py"
        path.write_text(source.replace(default, f"ROUNDS = {rounds}\n", 1))
    spec = importlib.util.spec_from_file_location("bench_learning_tasks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_learning_tasks"] = module
    spec.loader.exec_module(module)
    return module


def delta_child(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    import delta

    scratch = Path(tempfile.mkdtemp(prefix="bench-learning-delta-"))
    tasks = tasks_module(args.rounds, scratch)
    task = getattr(tasks, WORKLOADS[args.workload][0])
    frames = []
    for member in range(args.members):
        x, y = member_arrays(args.data, args.members, member)
        frame = pd.DataFrame(x, columns=list(tasks.FEATURES))
        frame[tasks.LABEL] = y
        frames.append(frame)

    # The requester's process answers `start`, then one `reduce` per round:
    # the times of those replies bound the rounds, all work included.
    marks: list[float] = []
    debug_module = importlib.import_module("delta.debug")
    process = debug_module._Process
    original = process.call

    def timed(self: Any, request: Any) -> Any:
        reply = original(self, request)
        if request.get("op") in ("start", "reduce"):
            marks.append(time.perf_counter())
        return reply

    process.call = timed
    report: dict[str, Any] = {}
    began = time.perf_counter()
    try:
        result = delta.debug(task, data={task.dataset: frames}, report=report)
    finally:
        process.call = original
    total = time.perf_counter() - began
    history = result.history
    trains = list(history["member_seconds"] * history["members"])
    walls = round_walls(marks)
    if len(walls) != len(history):  # the runner changed: fall back to the requester's view
        walls = list(history["seconds"])
    rounds = len(history)
    return {
        **summary(walls, trains),
        "params": int(sum(v.size for v in result.model.values())),
        "start_s": (marks[0] - began) if marks else float("nan"),
        "model_bytes": float((history["upload_bytes"] + history["download_bytes"]).median()),
        "all_bytes": report.get("bytes", float("nan")) / (args.members * rounds),
        "member_mb": peak_rss_mb(),
        "loss": float(history["train_loss"].iloc[-1]),
        "rounds": rounds,
        "total_s": total,
        "walls": walls,
        "trains": trains,
    }


def delta_workers_child(args: argparse.Namespace) -> dict[str, Any]:
    """The same task through a `delta-coordinator` and `--members` real
    `delta-worker` processes on loopback, each holding its part as a
    Parquet dataset, submitted with `delta.Client` as a data scientist
    would."""
    sys.path.insert(0, str(SCRIPTS.parent / "tools" / "py"))
    import pandas as pd
    from workers import Worker

    import delta
    from coordinator import Client as CoordinatorClient
    from coordinator import Coordinator

    scratch = Path(tempfile.mkdtemp(prefix="bench-learning-workers-"))
    tasks = tasks_module(args.rounds, scratch)
    task = getattr(tasks, WORKLOADS[args.workload][0])
    with contextlib.ExitStack() as stack:
        coordinator = stack.enter_context(Coordinator(scratch / "coordinator.sqlite"))
        workers = []
        for member in range(args.members):
            folder = scratch / f"worker-{member}"
            folder.mkdir()
            x, y = member_arrays(args.data, args.members, member)
            frame = pd.DataFrame(x, columns=list(tasks.FEATURES))
            frame[tasks.LABEL] = y
            frame.to_parquet(folder / "digits.parquet", index=False)
            worker = Worker(
                folder,
                f"bench-{member + 1}",
                "coordinator",
                coordinator.url,
                extra_config=f'\n[datasets.{task.dataset}]\npath = "digits.parquet"\n',
            )
            workers.append(worker)
            stack.callback(worker.stop)
        with ThreadPoolExecutor(len(workers)) as pool:
            for started in [pool.submit(w.start, 180.0) for w in workers]:
                started.result()
        client = delta.Client(workers[0].api, workers[0].token)
        began = time.perf_counter()
        result = client.submit(task).wait(timeout=CHILD_TIMEOUT_S, progress=False)
        total = time.perf_counter() - began
        ledger = CoordinatorClient(coordinator.url)
        try:
            log = ledger.call("coordinator_events", 1, 10_000)
        finally:
            ledger.close()
    history = result.history
    walls = list(history["seconds"])
    # The members train at once, each in its own worker's task process:
    # the round's critical path is the slowest member's training, here
    # their mean (which makes the overhead, if anything, larger).
    trains = list(history["member_seconds"])
    return {
        **summary(walls, trains),
        "params": int(sum(v.size for v in result.model.values())),
        "start_s": total - sum(walls),
        "model_bytes": float((history["upload_bytes"] + history["download_bytes"]).median()),
        "all_bytes": float("nan"),
        "member_mb": float("nan"),
        "loss": float(history["train_loss"].iloc[-1]),
        "rounds": len(history),
        "total_s": total,
        "walls": walls,
        "trains": trains,
        "phases_s": phase_seconds(log),
    }


# Where a round's time goes on the ledger: each span ends at the event
# named, from the one before it.
PHASE_SPANS = (
    ("open", "ShareKeys"),
    ("share keys", "Compute"),
    ("compute", "Unmask"),
    ("unmask", "Done"),
    ("reduce", "RoundFinished"),
    ("to next round", "RoundStarted"),
)


def phase_seconds(log: list[dict[str, Any]]) -> dict[str, float]:
    """Median seconds of each span of PHASE_SPANS over rounds 2..R, from the
    coordinator's event log (`at`: its clock, ms)."""
    marks: dict[int, dict[str, float]] = {}
    for e in log:
        if "round" not in e:
            continue
        name = e["event"]
        if name == "PhaseChanged":
            name = e["phase"] if isinstance(e["phase"], str) else "Failed"
        marks.setdefault(e["round"], {}).setdefault(name, e["at"] / 1000)
    spans: dict[str, list[float]] = {span: [] for span, _ in PHASE_SPANS}
    for round_no in sorted(marks)[1:]:
        here, after = marks[round_no], marks.get(round_no + 1, {})
        previous = "RoundStarted"
        for span, until in PHASE_SPANS:
            end = after.get(until) if until == "RoundStarted" else here.get(until)
            if end is not None and previous in here:
                spans[span].append(end - here[previous])
            previous = until
    return {span: median_or_nan(v) for span, v in spans.items()}


# -- Flower (these run in Flower's venv: the driver, and the clients in Ray's actor) --------

_MARKS: list[tuple[str, float]] = []
"""The strategy's round marks in this process: ("start", t) at the first
configure, ("end", t) after each aggregation (`perf_counter`)."""

_MEMBERS: dict[tuple[str, int], Any] = {}
"""In a client process: each member's data, and one model per workload."""


def training_code() -> Any:
    """bench_learning_tasks for Flower's processes: with a stand-in for
    `delta`, so that they load only what they train with."""
    module = sys.modules.get("bench_learning_tasks")
    if module is None:
        if "delta" not in sys.modules:
            stub = types.ModuleType("delta")
            stub.HorizontalLearning = type("HorizontalLearning", (), {})  # type: ignore[attr-defined]
            sys.modules["delta"] = stub
        import bench_learning_tasks as module
    return module


def _member(config: Any, partition: int, members: int) -> tuple[Any, Any, Any]:
    """The model (one per workload in this process) and this member's rows."""
    import torch

    tasks = training_code()
    sizes = tuple(int(s) for s in str(config["sizes"]).split(","))
    model_key = (str(config["sizes"]), -1)
    if model_key not in _MEMBERS:
        _MEMBERS[model_key] = tasks.mlp(sizes)
    data_key = (str(config["data"]), partition)
    if data_key not in _MEMBERS:
        x, y = member_arrays(str(config["data"]), members, partition)
        _MEMBERS[data_key] = (torch.from_numpy(x), torch.from_numpy(y))
    x, y = _MEMBERS[data_key]
    return _MEMBERS[model_key], x, y


def _log(entry: dict[str, Any]) -> None:
    with open(os.environ[LOG_ENV], "a") as out:
        out.write(json.dumps(entry) + "\n")


def _mark(what: str) -> None:
    """A round mark (`what`: "start" or "end"): kept in `_MARKS`, which the
    simulation's driver reads in its own process; in deployment the
    strategy runs in the ServerApp process Flower spawns, so the mark also
    goes to the log, with the wall clock (the reader is another process)."""
    _MARKS.append((what, time.perf_counter()))
    if os.environ.get(MARKS_ENV) == "log":
        _log({"kind": "mark", "what": what, "t": time.time()})


_WARMED: list[bool] = []


def _warm_up_torch() -> None:
    """One SGD step on a throwaway parameter: torch loads `torch._dynamo` at
    an optimiser's first use (a second or more here), which a fresh process
    would otherwise pay inside the timed training call."""
    import torch

    weight = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.SGD([weight], lr=0.0)
    optimiser.zero_grad()
    (weight * 1.0).sum().backward()
    optimiser.step()
    _WARMED.append(True)


def _train_and_log(model: Any, x: Any, y: Any, config: Any, server_round: int) -> float:
    import torch

    tasks = training_code()
    if os.environ.get(WARM_UP_ENV) == "1" and not _WARMED:
        _warm_up_torch()
    wall = time.time()
    began = time.perf_counter()
    loss = tasks.sgd_epoch(model, x, y, float(config["lr"]), int(config["batch"]), server_round)
    seconds = time.perf_counter() - began
    _log(
        {
            "kind": "train",
            "round": server_round,
            "seconds": seconds,
            "began": wall,
            "loss": loss,
            "examples": len(y),
            "rss_mb": peak_rss_mb(),
            "threads": torch.get_num_threads(),
            "pid": os.getpid(),
        }
    )
    return loss


def message_train(msg: Any, context: Any) -> Any:
    """The Message API client: load, train, reply with weights and count."""
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict

    config = msg.content["config"]
    partition = int(context.node_config["partition-id"])
    members = int(context.node_config["num-partitions"])
    model, x, y = _member(config, partition, members)
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    loss = _train_and_log(model, x, y, config, int(config["server-round"]))
    content = RecordDict(
        {
            "arrays": ArrayRecord(model.state_dict()),
            "metrics": MetricRecord({"loss": loss, "num-examples": len(y)}),
        }
    )
    return Message(content=content, reply_to=msg)


_NUMPY_CLIENT: list[type] = []


def legacy_client_fn(context: Any) -> Any:
    """The legacy client (what `secaggplus_mod` works with)."""
    if not _NUMPY_CLIENT:
        import torch
        from flwr.client import NumPyClient

        class BenchClient(NumPyClient):
            def __init__(self, partition: int, members: int) -> None:
                self.partition, self.members = partition, members

            def fit(self, parameters: Any, config: Any) -> Any:
                model, x, y = _member(config, self.partition, self.members)
                keys = list(model.state_dict())
                model.load_state_dict(
                    {k: torch.from_numpy(v) for k, v in zip(keys, parameters, strict=True)}
                )
                loss = _train_and_log(model, x, y, config, int(config["server_round"]))
                trained = [v.detach().numpy() for v in model.state_dict().values()]
                return trained, len(y), {"loss": loss}

        _NUMPY_CLIENT.append(BenchClient)
    partition = int(context.node_config["partition-id"])
    members = int(context.node_config["num-partitions"])
    return _NUMPY_CLIENT[0](partition, members).to_client()


def bytes_mod(msg: Any, context: Any, call_next: Callable[[Any, Any], Any]) -> Any:
    """Outermost client mod: the bytes of each message in and out."""
    received = _message_bytes(msg)
    reply = call_next(msg, context)
    sent = _message_bytes(reply)
    _log(
        {"kind": "bytes", "in": received, "out": sent, "rss_mb": peak_rss_mb(), "pid": os.getpid()}
    )
    return reply


def _message_bytes(msg: Any) -> dict[str, int]:
    """The bytes of a message's records: all of them, and those of the model
    (its arrays, or SecAgg+'s masked vector)."""
    if not msg.has_content():
        return {"all": 0, "model": 0}
    content = msg.content
    model = sum(r.count_bytes() for r in content.array_records.values())
    total = model
    for records in (content.config_records, content.metric_records):
        for record in records.values():
            total += sum(len(k) + _value_bytes(v) for k, v in record.items())
    for record in content.config_records.values():
        masked = record.get("masked_params")  # SecAgg+'s masked upload (Key.MASKED_PARAMETERS)
        if isinstance(masked, list):
            model += _value_bytes(masked)
    return {"all": total, "model": model}


def _value_bytes(value: Any) -> int:
    """As `ConfigRecord.count_bytes` counts (which fails on empty lists)."""
    if isinstance(value, list):
        return sum(_value_bytes(v) for v in value)
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return len(value)
    return 1 if isinstance(value, bool) else 8


def _train_config(args: argparse.Namespace, tasks: Any) -> dict[str, Any]:
    sizes = getattr(tasks, WORKLOADS[args.workload][1])
    return {
        "sizes": ",".join(str(s) for s in sizes),
        "data": args.data,
        "lr": float(tasks.LEARNING_RATE),
        "batch": int(tasks.BATCH),
    }


def message_server(args: argparse.Namespace) -> Callable[[Any, Any], None]:
    from flwr.app import ArrayRecord, ConfigRecord
    from flwr.serverapp.strategy import FedAvg

    class TimedFedAvg(FedAvg):
        def configure_train(self, *args: Any, **kwargs: Any) -> Any:
            if not _MARKS:
                _mark("start")
            return super().configure_train(*args, **kwargs)

        def aggregate_train(self, *args: Any, **kwargs: Any) -> Any:
            out = super().aggregate_train(*args, **kwargs)
            _mark("end")
            return out

    def main(grid: Any, context: Any) -> None:
        tasks = training_code()
        sizes = getattr(tasks, WORKLOADS[args.workload][1])
        strategy = TimedFedAvg(
            fraction_train=1.0,
            fraction_evaluate=0.0,
            min_train_nodes=args.members,
            min_available_nodes=args.members,
        )
        strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord(tasks.mlp(sizes).state_dict()),
            num_rounds=args.rounds,
            train_config=ConfigRecord(_train_config(args, tasks)),
        )

    return main


def legacy_server(args: argparse.Namespace, secagg: bool) -> Callable[[Any, Any], None]:
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    class TimedFedAvg(FedAvg):
        def configure_fit(self, *args: Any, **kwargs: Any) -> Any:
            if not _MARKS:
                _mark("start")
            return super().configure_fit(*args, **kwargs)

        def aggregate_fit(self, *args: Any, **kwargs: Any) -> Any:
            out = super().aggregate_fit(*args, **kwargs)
            _mark("end")
            return out

    def main(grid: Any, context: Any) -> None:
        tasks = training_code()
        sizes = getattr(tasks, WORKLOADS[args.workload][1])
        weights = [v.numpy() for v in tasks.mlp(sizes).state_dict().values()]
        config = _train_config(args, tasks)
        strategy = TimedFedAvg(
            fraction_fit=1.0,
            fraction_evaluate=0.0,
            min_fit_clients=args.members,
            min_available_clients=args.members,
            initial_parameters=ndarrays_to_parameters(weights),
            on_fit_config_fn=lambda server_round: {**config, "server_round": server_round},
        )
        legacy = LegacyContext(
            context=context, config=ServerConfig(num_rounds=args.rounds), strategy=strategy
        )
        fit_workflow = None
        if secagg:
            # Every member shares with every other, a majority rebuilds a
            # secret: Delta's graph and threshold at these sizes.
            fit_workflow = SecAggPlusWorkflow(
                num_shares=args.members, reconstruction_threshold=args.members // 2 + 1
            )
        DefaultWorkflow(fit_workflow=fit_workflow)(grid, legacy)

    return main


def flower_server_app(system: str, args: argparse.Namespace) -> Any:
    """The ServerApp of a Flower system (simulation and deployment alike)."""
    from flwr.serverapp import ServerApp

    stack = FLOWER_STACKS[system]
    server = ServerApp()
    if stack == "message":
        server.main()(message_server(args))
    else:
        server.main()(legacy_server(args, stack == "secagg"))
    return server


def flower_client_app(system: str) -> Any:
    """The ClientApp of a Flower system (simulation and deployment alike)."""
    from flwr.clientapp import ClientApp

    stack = FLOWER_STACKS[system]
    if stack == "message":
        client = ClientApp(mods=[bytes_mod])
        client.train()(message_train)
        return client
    from flwr.client.mod import secaggplus_mod

    mods = [bytes_mod, secaggplus_mod] if stack == "secagg" else [bytes_mod]
    return ClientApp(client_fn=legacy_client_fn, mods=mods)


def flower_figures(
    args: argparse.Namespace, entries: list[dict[str, Any]], ends: list[float], began: float
) -> dict[str, Any]:
    """A Flower run's figures from the clients' log entries and the
    strategy's marks (`began`: the start of the run, on the marks' clock)."""
    tasks = training_code()
    trains = [e for e in entries if e["kind"] == "train"]
    sent = [e for e in entries if e["kind"] == "bytes"]
    walls = round_walls(ends)
    rounds = len(walls)
    per_round = [0.0] * rounds
    loss_sum, examples = [0.0] * rounds, [0] * rounds
    spans: list[list[tuple[float, float]]] = [[] for _ in range(rounds)]
    for e in trains:
        if 1 <= e["round"] <= rounds:
            per_round[e["round"] - 1] += e["seconds"]
            loss_sum[e["round"] - 1] += e["loss"] * e["examples"]
            examples[e["round"] - 1] += e["examples"]
            spans[e["round"] - 1].append((e["began"], e["began"] + e["seconds"]))
    # The wall time in which some member trained: the sum where members
    # train one after another (simulation), less where they overlap
    # (deployment: a process each). Reported in the JSON, not the table.
    union = [_covered(round_spans) for round_spans in spans]
    if rounds != args.rounds:
        raise RuntimeError(f"Flower ran {rounds} of {args.rounds} rounds: see the log above")
    member_rounds = args.members * rounds
    sizes = getattr(tasks, WORKLOADS[args.workload][1])
    return {
        **summary(walls, per_round),
        "params": sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False)),
        "start_s": (ends[0] - began) if ends else float("nan"),
        "model_bytes": sum(e["in"]["model"] + e["out"]["model"] for e in sent) / member_rounds,
        "all_bytes": sum(e["in"]["all"] + e["out"]["all"] for e in sent) / member_rounds,
        "member_mb": max((e["rss_mb"] for e in trains), default=float("nan")),
        "loss": loss_sum[-1] / examples[-1] if rounds and examples[-1] else float("nan"),
        "rounds": rounds,
        "walls": walls,
        "trains": per_round,
        "train_union_s": median_or_nan(union[1:]),
        "train_unions": union,
        "client_processes": len({e["pid"] for e in trains}),
        "client_threads": sorted({e["threads"] for e in trains}),
    }


def _covered(spans: list[tuple[float, float]]) -> float:
    """The length of the union of the intervals `spans`."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def flower_child(args: argparse.Namespace) -> dict[str, Any]:
    if args.child.startswith("flower-deploy"):
        return flower_deploy_child(args)

    import flwr
    from flwr.simulation import run_simulation

    log_path = Path(tempfile.mkdtemp(prefix="bench-learning-flower-")) / "clients.jsonl"
    log_path.touch()
    os.environ[LOG_ENV] = str(log_path)  # Ray's processes inherit it
    training_code()  # loaded (torch with it) before the clock starts

    server = flower_server_app(args.child, args)
    client = flower_client_app(args.child)

    cpus = os.cpu_count() or 1
    began = time.perf_counter()
    run_simulation(
        server_app=server,
        client_app=client,
        num_supernodes=args.members,
        backend_config={
            "client_resources": {"num_cpus": cpus, "num_gpus": 0.0},
            "init_args": {"num_cpus": cpus, "logging_level": "ERROR"},
        },
    )
    total = time.perf_counter() - began

    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line]
    ends = [t for _, t in _MARKS]
    return {
        **flower_figures(args, entries, ends, began),
        "total_s": total,
        "flower": flwr.__version__,
    }


# -- Flower's deployment engine: a SuperLink and SuperNodes on loopback -----------------------

DEPLOY_APP_PYPROJECT = """\
[project]
name = "bench-learning"
version = "1.0.0"
description = "bench_learning.py's {system} job, written by it for one run"
license = "Apache-2.0"

[tool.flwr.app]
publisher = "delta"

[tool.flwr.app.components]
serverapp = "bench_server_app:app"
clientapp = "bench_client_app:app"
"""

DEPLOY_APP_MODULE = '''"""bench_learning.py's {side} for `{system}` (written by it for one run).
Flower's {side} process imports this from the installed app; `bench_learning`
comes from PYTHONPATH."""

import argparse
import json

import bench_learning

ARGS = argparse.Namespace(**json.loads({payload!r}))
app = bench_learning.{factory}
'''


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_flower_app(system: str, args: argparse.Namespace, folder: Path) -> Path:
    """A Flower App folder whose ServerApp and ClientApp are those of
    `flower_server_app`/`flower_client_app` for `system` and these args
    (which travel in the modules' source: the app is built into a FAB)."""
    folder.mkdir(parents=True)
    payload = json.dumps(
        {
            "child": system,
            "workload": args.workload,
            "rounds": args.rounds,
            "members": args.members,
            "data": args.data,
        }
    )
    (folder / "pyproject.toml").write_text(DEPLOY_APP_PYPROJECT.format(system=system))
    for module, side, factory in (
        ("bench_server_app", "ServerApp", f"flower_server_app({system!r}, ARGS)"),
        ("bench_client_app", "ClientApp", f"flower_client_app({system!r})"),
    ):
        source = DEPLOY_APP_MODULE.format(
            side=side, system=system, payload=payload, factory=factory
        )
        (folder / f"{module}.py").write_text(source)
    return folder


def _process_start(pid: int) -> int | None:
    """A process's start time (clock ticks since boot); None once it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _descendants(root: int) -> set[tuple[int, int]]:
    """(pid, start time) of every process below `root`, now."""
    children, out, todo = _children(), set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            start = _process_start(child)
            if start is not None:
                out.add((child, start))
                todo.append(child)
    return out


def _signal_alive(processes: set[tuple[int, int]], signum: int) -> int:
    """Send `signum` to those of `processes` still running (the same pid and
    start time, not a zombie); return how many there were."""
    alive = 0
    for pid, start in processes:
        with contextlib.suppress(OSError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[19]) == start and stat[0] != "Z":
                os.kill(pid, signum)
                alive += 1
    return alive


def stop_processes(started: list[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    """Stop what this process started and all that those started (Flower's
    SuperExecs, ServerApp and ClientApp processes): terminate, wait, kill."""
    below: set[tuple[int, int]] = set()
    for proc in started:
        below |= _descendants(proc.pid)
    for proc in reversed(started):
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in started:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if _signal_alive(below, signal.SIGTERM):
        deadline = time.monotonic() + 5.0
        while _signal_alive(below, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_alive(below, signal.SIGKILL)


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])


def flower_deploy_child(args: argparse.Namespace) -> dict[str, Any]:
    """The `flower-sim*` job through Flower's deployment engine: a real
    `flower-superlink` and `--members` real `flower-supernode` processes on
    127.0.0.1 (`--insecure`), the run submitted with `flwr run`."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-learning-deploy-"))
    log_path = scratch / "clients.jsonl"
    log_path.touch()
    app = write_flower_app(args.child, args, scratch / "app")
    home = scratch / "flwr-home"  # Flower's config and installed apps, not ~/.flwr
    home.mkdir()
    bin_dir = Path(sys.executable).parent  # the venv's (unresolved): its flwr-* commands
    env = dict(os.environ)
    env.update(
        {
            LOG_ENV: str(log_path),
            MARKS_ENV: "log",
            WARM_UP_ENV: "1",
            "FLWR_HOME": str(home),
            # SuperLink and SuperNodes start `flower-superexec`, which starts
            # `flwr-serverapp` and `flwr-clientapp`, all by name.
            "PATH": os.pathsep.join(p for p in (str(bin_dir), env.get("PATH")) if p),
            "PYTHONPATH": os.pathsep.join(p for p in (str(SCRIPTS), env.get("PYTHONPATH")) if p),
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
        }
    )
    # SuperLink: one HTTP port for its Fleet, Control and ServerApp runtime APIs.
    link_port = free_port()
    link = f"127.0.0.1:{link_port}"
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "bench"\n\n[superlink.bench]\naddress = "{link}"\n'
        "insecure = true\n"
    )
    started: list[subprocess.Popen[bytes]] = []
    logs: dict[str, Path] = {}

    def spawn(name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        logs[name] = scratch / f"{name}.log"
        print("$", " ".join(cmd), flush=True)
        with logs[name].open("w") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
        started.append(proc)
        return proc

    def wait_for(what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEPLOY_START_TIMEOUT_S
        while not ready():
            for proc in started:
                if proc.poll() is not None:
                    raise RuntimeError(f"{what}: {proc.args[0]} exited ({proc.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not after {DEPLOY_START_TIMEOUT_S} s")
            time.sleep(0.1)

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", link_port)) == 0

    def registered() -> bool:
        return all(
            "SuperNode ID" in logs[f"supernode-{i}"].read_text(errors="replace")
            for i in range(args.members)
        )

    began = time.perf_counter()
    try:
        spawn(
            "superlink",
            [
                str(bin_dir / "flower-superlink"),
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                str(link_port),
                # Else each ServerApp `uv sync`s the app into an env of its own.
                "--disable-runtime-dependency-installation",
            ],
        )
        wait_for("the SuperLink listening", listening)
        for member in range(args.members):
            spawn(
                f"supernode-{member}",
                [
                    str(bin_dir / "flower-supernode"),
                    "--insecure",
                    "--superlink",
                    link,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(free_port()),  # its runtime API, which its ClientApps use
                    "--node-config",
                    f"partition-id={member} num-partitions={args.members}",
                ],
            )
        wait_for("every SuperNode registered", registered)
        run_began = time.time()
        run = spawn("flwr-run", [str(bin_dir / "flwr"), "run", str(app), "bench", "--stream"])
        try:
            rc = run.wait(timeout=DEPLOY_RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"`flwr run` did not finish in {DEPLOY_RUN_TIMEOUT_S} s") from None
        total = time.perf_counter() - began
        if rc != 0:
            raise RuntimeError(f"`flwr run` exited {rc}")
    except BaseException as err:
        for name in ("flwr-run", "superlink", "supernode-0"):
            if name in logs:
                print(f"{name} log ({logs[name]}) ends:\n{_tail(logs[name])}", flush=True)
        if isinstance(err, RuntimeError):
            raise RuntimeError(f"{args.child}: {err}; logs in {scratch}") from None
        raise
    finally:
        stop_processes(started[1:])  # the CLI and the SuperNodes, then the SuperLink
        stop_processes(started[:1])
    print(f"flwr run's log ({logs['flwr-run']}) ends:\n{_tail(logs['flwr-run'], 5)}", flush=True)

    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line]
    ends = [e["t"] for e in entries if e["kind"] == "mark"]
    figures = flower_figures(args, entries, ends, run_began)
    trained = sum(e["kind"] == "train" for e in entries)
    if trained != args.members * args.rounds:
        raise RuntimeError(
            f"{args.child}: the ClientApps trained {trained} of {args.members * args.rounds} "
            f"times; the SuperNodes' logs are in {scratch}"
        )
    # One ClientApp process per message here: the members' peak is the
    # largest of those processes' peaks, whatever stage each ran.
    rss = [e["rss_mb"] for e in entries if e["kind"] in ("train", "bytes")]
    return {
        **figures,
        "member_mb": max(rss, default=float("nan")),
        "total_s": total,
        "flower": importlib.metadata.version("flwr"),
    }


# -- the driver ------------------------------------------------------------------------------


def flower_python(quiet: bool) -> tuple[Path, float]:
    """Flower's venv's interpreter, made and filled if missing; and the
    seconds that took (0: it was there)."""
    python = FLOWER_VENV / "bin" / "python"
    if python.exists():
        check = subprocess.run([python, "-c", "import flwr, ray"], capture_output=True)
        if check.returncode == 0:
            return python, 0.0
    began = time.perf_counter()
    if not quiet:
        print(f"installing {FLOWER_REQUIREMENTS[0]} into {FLOWER_VENV} ...", flush=True)
    FLOWER_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(FLOWER_VENV)], check=True
    )
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *FLOWER_REQUIREMENTS], check=True)
    return python, time.perf_counter() - began


def prepare_data(scratch: Path) -> Path:
    """Digits as float32 pixels / 16 and int64 labels, loaded once here so
    that no measured process imports scikit-learn."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = scratch / "digits.npz"
    np.savez(path, x=(digits.data / 16.0).astype(np.float32), y=digits.target.astype(np.int64))
    return path


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            out.setdefault(ppid, []).append(int(entry))
    return out


def _tree_rss_mb(root: int) -> float:
    children = _children()
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def run_child(
    python: Path, system: str, args: argparse.Namespace, workload: str, data: Path, scratch: Path
) -> dict[str, Any]:
    out = scratch / f"{system}-{workload}.json"
    log = scratch / f"{system}-{workload}.log"
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--child",
        system,
        "--workload",
        workload,
        "--rounds",
        str(args.rounds),
        "--members",
        str(args.members),
        "--data",
        str(data),
        "--out",
        str(out),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SCRIPTS), env.get("PYTHONPATH")) if p)
    peak = [0.0]
    with log.open("w") as sink:
        child = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss_mb(child.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = child.wait(timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            below = _descendants(child.pid)  # the deployment's Flower processes, say
            child.kill()
            rc = child.wait()
            _signal_alive(below, signal.SIGKILL)
        done.set()
        sampler.join()
    if rc != 0 or not out.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"{system} on {workload} failed (exit {rc}); its log ends:\n{tail}")
    result = json.loads(out.read_text())
    result["tree_mb"] = peak[0]
    return result


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def _bytes(value: float) -> str:
    if value != value:
        return "n/a"
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:.0f} B"


def print_table(results: dict[tuple[str, str], dict[str, Any]], members: int) -> None:
    header = (
        "system",
        "workload",
        "params",
        "start s",
        "round1 s",
        "round s",
        "train s",
        "overhead s",
        "ovh/member ms",
        "model B",
        "all B",
        "member MB",
        "tree MB",
        "loss",
        "total s",
    )
    rows = [header]
    for (workload, system), r in results.items():
        rows.append(
            (
                system,
                workload,
                f"{r['params']:,}",
                _fmt(r["start_s"], 2),
                _fmt(r["round1_s"], 2),
                _fmt(r["round_s"]),
                _fmt(r["train_s"]),
                _fmt(r["overhead_s"]),
                _fmt(1000 * r["overhead_s"] / members, 1),
                _bytes(r["model_bytes"]),
                _bytes(r["all_bytes"]),
                _fmt(r["member_mb"], 0),
                _fmt(r["tree_mb"], 0),
                _fmt(r["loss"], 4),
                _fmt(r["total_s"], 1),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for at, row in enumerate(rows):
        print(
            "  ".join(
                cell.rjust(w) if i > 1 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if at == 0:
            print("  ".join("-" * w for w in widths))


def print_phases(results: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Where the ten workers' rounds spend their time, on the ledger's clock."""
    for (workload, system), r in results.items():
        phases = r.get("phases_s")
        if not phases:
            continue
        spans = ", ".join(f"{span} {_fmt(s, 3)}" for span, s in phases.items())
        print(f"\n{system} {workload}, a round on the coordinator's clock (medians, s): {spans}")


def print_ratios(results: dict[tuple[str, str], dict[str, Any]]) -> None:
    systems = {s for _, s in results}
    if not systems & set(DELTA_SYSTEMS) or len(systems) < 2:
        return
    print()
    print("Delta's per-round overhead against Flower's (medians of rounds 2..R):")
    workloads = list(dict.fromkeys(w for w, _ in results))
    targets = (
        ("flower-sim-secagg", 1 / 3, "both with SecAgg+, target <= 0.33"),
        ("flower-sim-legacy", 1.0, "Flower legacy stack without SecAgg+, target <= 1"),
        ("flower-sim", 1.0, "Flower without SecAgg+, target <= 1"),
        ("flower-deploy-secagg", 1 / 3, "deployment, both with SecAgg+, target <= 0.33"),
        ("flower-deploy", 1.0, "deployment, Flower without SecAgg+, target <= 1"),
    )
    for workload in workloads:
        for delta_system in DELTA_SYSTEMS:
            mine = results.get((workload, delta_system))
            if mine is None:
                continue
            for system, target, what in targets:
                theirs = results.get((workload, system))
                if theirs is None:
                    continue
                ratio = mine["overhead_s"] / theirs["overhead_s"]
                verdict = "met" if ratio <= target else "NOT met"
                print(
                    f"  {workload:7s} {delta_system:13s} / {system:20s} = "
                    f"{_fmt(mine['overhead_s'])} / {_fmt(theirs['overhead_s'])} s = "
                    f"{ratio:.2f}  ({what}: {verdict})"
                )
                share = mine["all_bytes"] / theirs["all_bytes"]
                print(
                    f"  {'':7s} bytes/member/round {_bytes(mine['all_bytes'])} vs "
                    f"{_bytes(theirs['all_bytes'])} ({_fmt(share, 2)}x); "
                    f"member peak RSS {_fmt(mine['member_mb'], 0)} vs "
                    f"{_fmt(theirs['member_mb'], 0)} MB"
                )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--workloads", default="digits,1m", help="of: " + ",".join(WORKLOADS))
    parser.add_argument("--systems", default=DEFAULT_SYSTEMS, help="of: " + ",".join(SYSTEMS))
    parser.add_argument("--json", help="also write every figure (and each round's) here")
    parser.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is None:
        for name, known in (("workloads", WORKLOADS), ("systems", SYSTEMS)):
            unknown = set(getattr(args, name).split(",")) - set(known)
            if unknown:
                parser.error(f"unknown {name}: {', '.join(sorted(unknown))}")
        if args.rounds < 2 or args.members < 2:
            parser.error("--rounds and --members must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        if args.child == "delta-debug":
            result = delta_child(args)
        elif args.child == "delta-workers":
            result = delta_workers_child(args)
        else:
            # Run as the module `bench_learning`, not `__main__`, so that
            # Ray's actor imports the client functions by name.
            import bench_learning

            result = bench_learning.flower_child(args)
        Path(args.out).write_text(json.dumps(result))
        return 0

    systems = args.systems.split(",")
    workloads = args.workloads.split(",")
    scratch = Path(tempfile.mkdtemp(prefix="bench-learning-"))
    data = prepare_data(scratch)
    flower, installed = Path(sys.executable), 0.0
    if any(s.startswith("flower") for s in systems):
        flower, installed = flower_python(quiet=False)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    began = time.perf_counter()
    for workload in workloads:
        for system in systems:
            python = Path(sys.executable) if system in DELTA_SYSTEMS else flower
            print(f"running {system} on {workload} ...", flush=True)
            result = run_child(python, system, args, workload, data, scratch)
            if system == "delta-workers":
                # Coordinator, workers and their task processes: per member.
                result["member_mb"] = result["tree_mb"] / args.members
            results[(workload, system)] = result
    elapsed = time.perf_counter() - began

    print()
    print(
        f"{args.members} members, {args.rounds} rounds, FedAvg, one local epoch of SGD "
        f"(batch 32, lr 0.1) per round; {os.cpu_count()} CPUs, torch on 1 thread"
    )
    versions = {r["flower"] for r in results.values() if "flower" in r}
    if versions:
        note = f"installed now in {installed:.0f} s" if installed else "venv already present"
        print(f"Flower {', '.join(sorted(versions))} ({note}; {FLOWER_VENV})")
    print()
    print_table(results, args.members)
    if "delta-workers" in systems:
        sys.path.insert(0, str(SCRIPTS.parent / "tools" / "py"))
        from workers import worker_binary

        from coordinator import coordinator_binary

        print(f"delta-workers ran {worker_binary()} and {coordinator_binary()}")
    print_phases(results)
    print_ratios(results)
    print(f"\nbenchmark ran {elapsed:.0f} s; logs in {scratch}")
    if args.json:
        rows = [{"workload": w, "system": s, **r} for (w, s), r in results.items()]
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
