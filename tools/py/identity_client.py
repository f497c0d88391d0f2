"""How a real client talks to DeltaIdentity: Python's substrate-interface,
unchanged, plus the two encodings a client needs (libp2p peer ids and the
runtime API's SCALE answer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.base import ExtrinsicReceipt

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    """Bitcoin-alphabet base58, the text form of libp2p peer ids."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * zeros + out


def ed25519_peer_id(public_key: bytes) -> bytes:
    """The binary libp2p peer id of an Ed25519 public key (identity multihash
    of the protobuf-encoded key)."""
    assert len(public_key) == 32
    return bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + public_key


def connect(url: str) -> SubstrateInterface:
    return SubstrateInterface(url=url, ss58_format=42)


def submit(
    chain: SubstrateInterface,
    keypair: Keypair,
    function: str,
    params: dict[str, Any],
    module: str = "DeltaIdentity",
) -> ExtrinsicReceipt:
    """Sign and submit a call (of DeltaIdentity unless `module` says
    otherwise); wait until it is in a block."""
    call = chain.compose_call(call_module=module, call_function=function, call_params=params)
    extrinsic = chain.create_signed_extrinsic(call=call, keypair=keypair)
    return chain.submit_extrinsic(extrinsic, wait_for_inclusion=True)


def assert_refused(receipt: ExtrinsicReceipt, error: str) -> None:
    """The call failed in its block with the pallet error `error`."""
    assert not receipt.is_success
    assert receipt.error_message["name"] == error, receipt.error_message


def register(
    chain: SubstrateInterface,
    keypair: Keypair,
    name: str,
    endpoint: str,
    peer_id: bytes,
) -> ExtrinsicReceipt:
    return submit(
        chain,
        keypair,
        "register",
        {
            "display_name": "0x" + name.encode().hex(),
            "endpoint": "0x" + endpoint.encode().hex(),
            "peer_id": "0x" + peer_id.hex(),
        },
    )


@dataclass
class Member:
    """One entry of `DeltaIdentityApi_members`."""

    account: bytes
    display_name: str
    endpoint: str
    peer_id: bytes
    registered_at: int
    updated_at: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("SCALE data ends early")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def compact(self) -> int:
        first = self.data[self.pos]
        mode = first & 3
        if mode == 0:
            return self.take(1)[0] >> 2
        if mode == 1:
            return int.from_bytes(self.take(2), "little") >> 2
        if mode == 2:
            return int.from_bytes(self.take(4), "little") >> 2
        size = (self.take(1)[0] >> 2) + 4
        return int.from_bytes(self.take(size), "little")

    def vec_u8(self) -> bytes:
        return self.take(self.compact())

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def done(self) -> bool:
        return self.pos == len(self.data)


def runtime_api_members(chain: SubstrateInterface) -> list[Member]:
    """Call the runtime API `DeltaIdentityApi_members` and decode its answer."""
    result = chain.rpc_request("state_call", ["DeltaIdentityApi_members", "0x"])["result"]
    reader = _Reader(bytes.fromhex(result[2:]))
    members = []
    for _ in range(reader.compact()):
        members.append(
            Member(
                account=reader.take(32),
                display_name=reader.vec_u8().decode(),
                endpoint=reader.vec_u8().decode(),
                peer_id=reader.vec_u8(),
                registered_at=reader.u32(),
                updated_at=reader.u32(),
            )
        )
    if not reader.done():
        raise ValueError("trailing bytes after the member list")
    return members


def metadata_versions(chain: SubstrateInterface) -> list[int]:
    result = chain.rpc_request("state_call", ["Metadata_metadata_versions", "0x"])["result"]
    reader = _Reader(bytes.fromhex(result[2:]))
    return [reader.u32() for _ in range(reader.compact())]


def scale_bytes(value: Any) -> bytes:
    """Bytes from substrate-interface's decoding of a `Vec<u8>`, which gives
    text when the bytes are valid UTF-8 and `0x`-hex otherwise."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list):
        return bytes(value)
    if value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    return str(value).encode("utf-8")
