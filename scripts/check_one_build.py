"""Fails if `cargo test` would compile a crate with other features than
`cargo build` does.

Cargo unifies dev-dependencies' features into the build only for tests, so
a dev-dependency that turns on one more feature of a crate the build
already has makes `cargo test` recompile that crate and everything above
it (once 258 crates, 6.5 minutes here). This compares the two unit graphs
(`--unit-graph`, read through cargo's test-channel override) and names the
crates whose features differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

FEATURES = ["--workspace", "--features", "delta-chain/runtime-benchmarks"]


def units(command: list[str]) -> dict[tuple[str, str, str], set[tuple[str, ...]]]:
    env = {**os.environ, "__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS": "nightly"}
    out = subprocess.run(
        ["cargo", *command, *FEATURES, "--unit-graph", "-Z", "unstable-options"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    found: dict[tuple[str, str, str], set[tuple[str, ...]]] = {}
    for unit in json.loads(out)["units"]:
        key = (unit["pkg_id"], unit["target"]["name"], unit["mode"])
        found.setdefault(key, set()).add(tuple(sorted(unit["features"])))
    return found


def main() -> int:
    build = units(["build"])
    test = units(["test", "--no-run"])
    again = sorted(
        f"{pkg} ({target}, {mode}): test adds {sorted(set(test[key] - build[key]))}"
        for key in build.keys() & test.keys()
        for pkg, target, mode in [key]
        if test[key] - build[key]
    )
    if again:
        print("cargo test would recompile with other features than cargo build:")
        print("\n".join(f"  {line}" for line in again))
        return 1
    print("one build: cargo test reuses every crate cargo build compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
