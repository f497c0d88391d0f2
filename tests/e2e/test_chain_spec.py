"""Chain-spec templates: `chain-spec/*.template.json` build into specs the
node runs, the local template gives exactly `--chain local`'s genesis, and a
broken template is refused with a message that says what is wrong."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from devnet import node_binary

SPECS = Path(__file__).resolve().parents[2] / "chain-spec"


def build_spec(chain: str, raw: bool = True) -> dict[str, Any]:
    args = [node_binary(), "build-spec", "--chain", chain, *(["--raw"] if raw else [])]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    spec: dict[str, Any] = json.loads(result.stdout)
    return spec


def test_local_template_is_the_built_in_local_network() -> None:
    from_template = build_spec(str(SPECS / "local.template.json"))
    built_in = build_spec("local")
    assert from_template["genesis"]["raw"]["top"] == built_in["genesis"]["raw"]["top"]
    assert from_template["chainType"] == "Local"


def test_testnet_template_builds_with_its_own_validators() -> None:
    template = json.loads((SPECS / "testnet-template.template.json").read_text())
    spec = build_spec(str(SPECS / "testnet-template.template.json"), raw=False)
    assert spec["name"] == template["name"]
    assert spec["id"] == template["id"]
    assert spec["chainType"] == "Live"
    patch = spec["genesis"]["runtimeGenesis"]["patch"]
    assert patch["aura"]["authorities"] == template["genesis"]["aura"]["authorities"]
    raw = build_spec(str(SPECS / "testnet-template.template.json"))
    assert raw["genesis"]["raw"]["top"], "the raw spec has no genesis storage"


def test_a_broken_template_is_refused_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"name": "x", "id": "x", "chainType": "Live"}))
    result = subprocess.run(
        [node_binary(), "build-spec", "--chain", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "has no `genesis`" in result.stderr
