"""`make demo`: Delta end to end, on both ledgers.

(a) A Delta dev chain and three hospitals' `delta-worker`s (dev accounts
    //Alice, //Bob, //Charlie), each holding a few thousand sample patients
    (CSV or Parquet) and registering itself in DeltaIdentity. The member
    list is read back through the runtime API, Clinic C commits a 5-row
    extract with a zero-knowledge proof (a precomputed fixture) verified
    on chain, and a requester submits a federated statistics query
    (`scripts/demo_tasks.py`) through `delta.Client` to the first worker.
    The answer is printed beside pandas on the pooled data, cleaned by the
    same rules the workers apply.
(b) The same query with a `delta-coordinator` as the ledger and three
    fresh workers.

Exits non-zero if anything fails or an answer differs from pandas: counts
must be equal, every other value within a relative 1e-9.
"""

from __future__ import annotations

import hashlib
import math
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "py"))

from demo_tasks import CohortStats  # noqa: E402
from substrateinterface import Keypair, SubstrateInterface  # noqa: E402
from workers import Worker, patients  # noqa: E402

import delta  # noqa: E402
from coordinator import Client as CoordinatorClient  # noqa: E402
from coordinator import Coordinator  # noqa: E402
from devnet import Node  # noqa: E402
from identity_client import base58, connect, runtime_api_members, submit  # noqa: E402

#: (dev-chain account, name, sample seed, rows, file format)
HOSPITALS = [
    ("//Alice", "Charité Hospital", 0, 2400, "csv"),
    ("//Bob", "Clinic B", 1, 3100, "parquet"),
    ("//Charlie", "Clinic C", 2, 1800, "csv"),
]
RTOL = 1e-9
FIXTURES = Path(__file__).resolve().parents[1] / "crypto" / "zk" / "fixtures"


def main() -> int:
    # The client's progress goes to stderr: keep stdout in step with it.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    started = time.monotonic()
    frames = [patients(seed, rows) for _, _, seed, rows, _ in HOSPITALS]
    expected = pandas_answer(frames)
    with tempfile.TemporaryDirectory(prefix="delta-demo-") as tmp:
        root = Path(tmp)
        ok = on_chain(root / "chain", frames, expected)
        ok = on_coordinator(root / "coordinator", frames, expected) and ok
    print(f"\nDemo {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s.")
    return 0 if ok else 1


# -- the reference answer -------------------------------------------------------------


def cleaned(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a worker keeps under `workers.PATIENT_COLUMNS`: age within
    0..120, and age, bmi, sbp and a known sex all present."""
    keep = (
        frame["age"].between(0, 120)
        & frame["bmi"].notna()
        & frame["sbp"].notna()
        & frame["sex"].isin(["f", "m"])
    )
    return frame[keep]


def pandas_answer(frames: list[pd.DataFrame]) -> dict[str, Any]:
    """What `CohortStats` asks, computed by pandas on the pooled data."""
    df = pd.concat([cleaned(f) for f in frames], ignore_index=True)
    return {
        "patients": df["age"].count(),
        "mean age": df["age"].mean(),
        "mean BMI": df["bmi"].mean(),
        "std BMI": df["bmi"].std(),
        "mean systolic BP by sex": df.groupby("sex")["sbp"].mean(),
        "corr(age, systolic BP)": df[["age", "sbp"]].corr()["sbp"]["age"],
    }


def compare(result: Any, expected: dict[str, Any]) -> bool:
    """Prints the federated answer beside pandas; True if they agree."""
    if not isinstance(result, dict) or set(result) != set(expected):
        print(f"  the result has the wrong shape: {result!r}", file=sys.stderr)
        return False
    rows: list[tuple[str, Any, Any]] = []
    for name, want in expected.items():
        got = result[name]
        if isinstance(want, pd.Series):
            if not isinstance(got, pd.Series):
                print(f"  {name}: expected a Series, got {got!r}", file=sys.stderr)
                return False
            got = got.set_axis([str(i) for i in got.index])
            for label, value in want.items():
                rows.append((f"{name}: {label}", got.get(str(label), math.nan), value))
        else:
            rows.append((name, got, want))
    ok = True
    print(f"\n  {'statistic':<32} {'federated':>20} {'pandas, pooled':>20}  rel. difference")
    for name, got, want in rows:
        if name == "patients":
            same = int(got) == int(want)
            shown = (f"{int(got)}", f"{int(want)}", "equal" if same else "DIFFERENT")
        else:
            g, w = float(got), float(want)
            diff = abs(g - w) / max(abs(w), 1e-300)
            same = math.isclose(g, w, rel_tol=RTOL, abs_tol=0.0)
            shown = (f"{g:.15g}", f"{w:.15g}", f"{diff:.1e}" + ("" if same else "  > 1e-9!"))
        ok = ok and same
        print(f"  {name:<32} {shown[0]:>20} {shown[1]:>20}  {shown[2]}")
    return ok


# -- helpers ---------------------------------------------------------------------------


def start_all(workers: list[Worker]) -> None:
    """Starts the workers side by side (each prepares its dataset and
    registers itself on the ledger before it reports ready)."""
    with ThreadPoolExecutor(len(workers)) as pool:
        for future in [pool.submit(w.start) for w in workers]:
            future.result()


def stop_all(workers: list[Worker]) -> None:
    with ThreadPoolExecutor(len(workers)) as pool:
        list(pool.map(lambda w: w.stop(), workers))


def show_datasets(worker: Worker) -> None:
    """What the worker's API says it offers, and what its cleaning did
    (from its log)."""
    client = delta.Client(worker.api, worker.token)
    for d in client.datasets():
        columns = ", ".join(f"{c['name']} ({c['type']})" for c in d["columns"])
        prepared = next(
            (
                line.split(f"dataset {d['name']}: ", 1)[1].strip()
                for line in worker.log
                if f"dataset {d['name']}: " in line
            ),
            "",
        )
        print(f"  {worker.name} offers {d['name']!r}: {columns}")
        if prepared:
            print(f"  {'':<{len(worker.name)}} prepared at start: {prepared}")


def query(worker: Worker, expected: dict[str, Any]) -> bool:
    """Submits `CohortStats` to `worker`'s API as a requester would, shows
    the progress the client prints, and checks the answer."""
    print(f"\nSubmitting CohortStats (scripts/demo_tasks.py) to {worker.name}'s API {worker.api}")
    client = delta.Client(worker.api, worker.token)
    t = time.monotonic()
    try:
        handle = client.submit(CohortStats, phase_timeout_s=20)
        result = handle.wait(timeout=90)
    except (delta.TaskFailed, delta.ClientError, TimeoutError) as exc:
        print(f"the query failed: {exc}", file=sys.stderr)
        return False
    took = time.monotonic() - t
    ok = compare(result, expected)
    print(f"\n  submit to result: {took:.1f} s")
    return ok


def dump_logs(workers: list[Worker]) -> None:
    for w in workers:
        print(f"--- last log lines of {w.name} ---", file=sys.stderr)
        print("".join(w.log[-20:]), file=sys.stderr)


# -- (a) the chain ---------------------------------------------------------------------


def on_chain(root: Path, frames: list[pd.DataFrame], expected: dict[str, Any]) -> bool:
    print("== (a) Delta dev chain, three hospitals' workers ==\n")
    started = time.monotonic()
    node = Node(["--dev", "--empty-block-interval", "1000"], name="demo")
    node.start()
    print(f"delta-chain --dev: RPC at {node.ws_url} after {time.monotonic() - started:.1f} s")
    workers = [
        Worker(
            root / f"worker-{i}",
            name,
            "chain",
            node.ws_url,
            frame,
            suri=uri,
            data_format=fmt,
            block_ms=1000,
        )
        for i, ((uri, name, _, _, fmt), frame) in enumerate(zip(HOSPITALS, frames, strict=True))
    ]
    ok = False
    try:
        t = time.monotonic()
        start_all(workers)
        print(f"3 workers ready and registered after {time.monotonic() - t:.1f} s\n")
        chain = connect(node.ws_url)
        print("Members of the network (runtime API DeltaIdentityApi_members):")
        print(f"  {'account':<50} {'name':<18} {'endpoint':<28} {'peer id':<54} block")
        for m in sorted(runtime_api_members(chain), key=lambda m: m.registered_at):
            account = Keypair(public_key=m.account, ss58_format=42).ss58_address
            print(
                f"  {account:<50} {m.display_name:<18} {m.endpoint:<28} "
                f"{base58(m.peer_id):<54} {m.registered_at}"
            )
        print()
        for w in workers:
            show_datasets(w)
        commit_dataset(chain)
        chain.close()
        ok = query(workers[0], expected)
    except Exception as exc:
        print(f"the chain demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        dump_logs(workers)
    finally:
        stop_all(workers)
        code = node.stop()
    print(f"\nWorkers stopped; delta-chain stopped (exit code {code}).")
    return ok and code == 0


def commit_dataset(chain: SubstrateInterface) -> None:
    """Clinic C commits a 5-row extract of its data: a Groth16 proof that
    the rows' Merkle root covers 5 rows with every value in its declared
    range, verified natively by ZkVerify against the key registered at
    genesis. (The proof is a precomputed fixture: proving is offline work.)"""
    key, proof, inputs = (
        (FIXTURES / f"dataset_5x2.{ext}").read_bytes() for ext in ("vk", "proof", "inputs")
    )
    clinic = Keypair.create_from_uri("//Charlie")
    name = b"patients-extract"
    t = time.monotonic()
    receipt = submit(
        chain,
        clinic,
        "commit_dataset",
        {
            "name": "0x" + name.hex(),
            "key": "0x" + hashlib.sha256(key).hexdigest(),
            "proof": "0x" + proof.hex(),
            "inputs": "0x" + inputs.hex(),
        },
        module="ZkVerify",
    )
    if not receipt.is_success:
        raise RuntimeError(f"dataset commitment failed: {receipt.error_message}")
    stored = chain.query(
        "ZkVerify", "DatasetCommitments", [clinic.ss58_address, "0x" + name.hex()]
    ).value
    print(
        f"\nClinic C committed dataset {name.decode()!r} ({stored['rows']} rows, root "
        f"{stored['root'][:18]}…) with a zero-knowledge proof verified on chain "
        f"in {time.monotonic() - t:.1f} s"
    )


# -- (b) the coordinator ---------------------------------------------------------------


def on_coordinator(root: Path, frames: list[pd.DataFrame], expected: dict[str, Any]) -> bool:
    print("\n== (b) delta-coordinator, three fresh workers ==\n")
    root.mkdir(parents=True, exist_ok=True)
    with Coordinator(root / "coordinator.sqlite") as coordinator:
        print(f"delta-coordinator at {coordinator.url}")
        workers = [
            Worker(
                root / f"worker-{i}", name, "coordinator", coordinator.url, frame, data_format=fmt
            )
            for i, ((_, name, _, _, fmt), frame) in enumerate(zip(HOSPITALS, frames, strict=True))
        ]
        ok = False
        try:
            t = time.monotonic()
            start_all(workers)
            print(f"3 workers ready and registered after {time.monotonic() - t:.1f} s\n")
            client = CoordinatorClient(coordinator.url)
            members = client.call("coordinator_members")
            client.close()
            print("Members of the network (coordinator_members):")
            print(f"  {'account':<50} {'name':<18} {'endpoint':<28} peer id")
            for m in sorted(members, key=lambda m: m["registered_at"]):
                peer = base58(bytes.fromhex(m["peer_id"].removeprefix("0x")))
                print(f"  {m['account']:<50} {m['display_name']:<18} {m['endpoint']:<28} {peer}")
            ok = query(workers[0], expected)
        except Exception as exc:
            print(f"the coordinator demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            dump_logs(workers)
        finally:
            stop_all(workers)
    print("\nWorkers and delta-coordinator stopped.")
    return ok


if __name__ == "__main__":
    sys.exit(main())
