"""Side-by-side timing of Delta's SecAgg+ and Flower's, on the same n, d, k,
threshold and dropout, in one run.

Flower's side runs Flower's own code from the installed `flwr` package:
the member side calls the SecAgg+ client mod's stage functions (`_setup`,
`_share_keys`, `_collect_masked_vectors`, `_unmask`) for one member among
its k neighbours; the aggregator side performs exactly the work of the
SecAgg+ workflow's masked-vector collection and unmask stage (sum and mod of
the masked vectors; per survivor, combine the seed shares and subtract the
private mask; per dropped member, combine the key shares and remove the
pairwise mask of each neighbour) with Flower's own functions, without the
message transport. Delta's side runs `examples/secagg_timing.rs` (release).

    python3 crypto/secagg/bench/compare_flower.py --n 100 --d 100000 --k 12 --t 7 --dropout 0.1
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[3]


def flower_member_time(n: int, d: int, k: int, t: int, dropped: set[int]) -> float:
    """One Flower member's time over its four stages, among k neighbours."""
    from flwr.app import ConfigRecord
    from flwr.common import ndarrays_to_parameters
    from flwr.common.secure_aggregation.secaggplus_constants import Key

    # The package re-exports a function of the module's name; take the module.
    mod = importlib.import_module("flwr.client.mod.secure_aggregation.secaggplus_mod")
    setup_cfg = ConfigRecord(
        {
            Key.SAMPLE_NUMBER: n,
            Key.SHARE_NUMBER: k + 1,
            Key.THRESHOLD: t,
            Key.CLIPPING_RANGE: 8.0,
            Key.TARGET_RANGE: 4194304,
            Key.MOD_RANGE: 4294967296,
            Key.MAX_WEIGHT: 1000.0,
        }
    )
    nids = list(range(1, k + 2))  # the member (1) and its k neighbours
    states = {nid: mod.SecAggPlusState(nid=nid) for nid in nids}
    elapsed = 0.0
    keys: dict[str, Any] = {}
    for nid, state in states.items():
        start = time.perf_counter()
        out = mod._setup(state, setup_cfg)
        if nid == 1:
            elapsed += time.perf_counter() - start
        keys[str(nid)] = [out[Key.PUBLIC_KEY_1], out[Key.PUBLIC_KEY_2]]
    inbox: dict[int, tuple[list[int], list[bytes]]] = {nid: ([], []) for nid in nids}
    for nid, state in states.items():
        start = time.perf_counter()
        out = mod._share_keys(state, ConfigRecord(keys))
        if nid == 1:
            elapsed += time.perf_counter() - start
        for dst, ctxt in zip(out[Key.DESTINATION_LIST], out[Key.CIPHERTEXT_LIST], strict=True):
            inbox[dst][0].append(nid)
            inbox[dst][1].append(ctxt)
    params = ndarrays_to_parameters([np.random.rand(d).astype(np.float32)])
    srcs, ctxts = inbox[1]
    start = time.perf_counter()
    mod._collect_masked_vectors(
        states[1],
        ConfigRecord({Key.CIPHERTEXT_LIST: ctxts, Key.SOURCE_LIST: srcs}),
        1,
        params,
    )
    elapsed += time.perf_counter() - start
    active = [nid for nid in nids if nid not in dropped]
    dead = [nid for nid in nids if nid in dropped]
    start = time.perf_counter()
    mod._unmask(
        states[1],
        ConfigRecord({Key.ACTIVE_NODE_ID_LIST: active, Key.DEAD_NODE_ID_LIST: dead}),
    )
    elapsed += time.perf_counter() - start
    return elapsed


def flower_aggregator_time(n: int, d: int, k: int, t: int, n_dropped: int) -> float:
    """The work of Flower's SecAgg+ workflow after the keys are shared."""
    from flwr.common.secure_aggregation.crypto.shamir import combine_shares, create_shares
    from flwr.common.secure_aggregation.crypto.symmetric_encryption import generate_shared_key
    from flwr.common.secure_aggregation.ndarrays_arithmetic import (
        get_parameters_shape,
        parameters_addition,
        parameters_mod,
        parameters_subtraction,
    )
    from flwr.common.secure_aggregation.secaggplus_utils import pseudo_rand_gen
    from flwr.supercore.primitives.asymmetric import (
        bytes_to_private_key,
        bytes_to_public_key,
        generate_key_pairs,
        private_key_to_bytes,
        public_key_to_bytes,
    )

    mod_range = 4294967296
    rng = np.random.default_rng(1)
    survivors = n - n_dropped
    masked = [[rng.integers(0, mod_range, d, dtype=np.int64)] for _ in range(survivors)]
    keypairs = [generate_key_pairs() for _ in range(n)]
    pk1 = [public_key_to_bytes(pk) for _, pk in keypairs]
    seed_shares = [create_shares(os.urandom(32), t, k + 1)[:t] for _ in range(survivors)]
    key_shares = [
        create_shares(private_key_to_bytes(sk), t, k + 1)[:t] for sk, _ in keypairs[:n_dropped]
    ]

    start = time.perf_counter()
    total = None
    for vec in masked:
        total = vec if total is None else parameters_addition(total, vec)
    assert total is not None
    total = parameters_mod(total, mod_range)
    shape = get_parameters_shape(total)
    for shares in seed_shares:
        secret = combine_shares(shares)
        total = parameters_subtraction(total, pseudo_rand_gen(secret, mod_range, shape))
    for dead, shares in enumerate(key_shares):
        secret = combine_shares(shares)
        for neighbour in range(k):
            peer = (dead + 1 + neighbour) % n
            shared = generate_shared_key(
                bytes_to_private_key(secret), bytes_to_public_key(pk1[peer])
            )
            mask = pseudo_rand_gen(shared, mod_range, shape)
            total = (
                parameters_addition(total, mask)
                if dead > peer
                else parameters_subtraction(total, mask)
            )
    parameters_mod(total, mod_range)
    return time.perf_counter() - start


def cargo_target_dir() -> Path:
    """Where cargo builds: `CARGO_TARGET_DIR` when it is set, otherwise what
    cargo reports for this workspace (its config or the default `target/`)."""
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) if Path(target).is_absolute() else REPO / target
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(out.stdout)["target_directory"])


def delta_times(n: int, d: int, k: int, t: int, dropout: float, repeat: int) -> dict[str, Any]:
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "delta-secagg", "--example", "secagg_timing"],
        cwd=REPO,
        check=True,
    )
    out = subprocess.run(
        [
            str(cargo_target_dir() / "release" / "examples" / "secagg_timing"),
            "--n",
            str(n),
            "--d",
            str(d),
            "--k",
            str(k),
            "--t",
            str(t),
            "--dropout",
            str(dropout),
            "--ring",
            "32",
            "--repeat",
            str(repeat),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    if not result["exact"]:
        sys.exit("Delta's sum was not exact: a bug, not a benchmark result")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--d", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=12, help="neighbours per member")
    parser.add_argument("--t", type=int, default=7, help="Shamir threshold")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n_dropped = round(args.dropout * args.n)
    # Dropped neighbours of the timed Flower member, in proportion.
    member_dropped = set(range(2, 2 + round(args.dropout * args.k)))

    flower_member = min(
        flower_member_time(args.n, args.d, args.k, args.t, member_dropped)
        for _ in range(args.repeat)
    )
    flower_agg = min(
        flower_aggregator_time(args.n, args.d, args.k, args.t, n_dropped)
        for _ in range(args.repeat)
    )
    delta = delta_times(args.n, args.d, args.k, args.t, args.dropout, args.repeat)

    print(
        f"n={args.n} d={args.d} k={args.k} t={args.t} dropout={args.dropout:.0%} "
        f"(best of {args.repeat}; Delta ring Z_2^32, Flower mod 2^32)"
    )
    print(f"{'':12} {'Flower':>12} {'Delta':>12} {'ratio':>8}")
    print(
        f"{'member':12} {flower_member * 1e3:10.1f}ms {delta['member_s'] * 1e3:10.2f}ms "
        f"{flower_member / delta['member_s']:7.1f}x"
    )
    print(
        f"{'aggregator':12} {flower_agg * 1e3:10.1f}ms {delta['aggregator_s'] * 1e3:10.2f}ms "
        f"{flower_agg / delta['aggregator_s']:7.1f}x"
    )


if __name__ == "__main__":
    main()
