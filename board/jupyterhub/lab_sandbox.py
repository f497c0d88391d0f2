"""Confines a person's Jupyter server (and every kernel it starts) before
it runs, then executes it: `python lab_sandbox.py <server> [args...]`.

A notebook runs whatever its person types, as the board's operating-system
user. Without this, that code could read the board's database, the worker's
API token (and with it everybody's tasks), other people's notebooks, or
signal the board. With it, through Landlock (inherited by every child):

- reading and executing only the system's programs and libraries
  (`/usr`, `/lib*`, `/bin`, `/sbin`), the Python installation and the
  Jupyter environment, this folder, the few files under `/etc` that
  Python and Jupyter read, `/proc` and `/sys`;
- writing only in the person's own folder (the current directory, which
  becomes `HOME` and `TMPDIR`) and to devices such as `/dev/null`;
- no signals to processes outside the sandbox (kernel ABI 6 and later);
- every capability dropped and no new privileges, so a board run as root
  gives notebooks no root powers.

If the kernel has no Landlock, the server does not start (the reason is
in the hub's log), unless the operator sets `DELTA_BOARD_LAB_UNCONFINED=1`.
The network is left open: a notebook must reach the board's API, and the
worker's API and the ledgers want credentials it cannot read.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
SCOPE_SIGNAL = 1 << 1

READ = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAP_VERSION_3 = 0x20080522

# What Python, Jupyter and the usual libraries read under /etc; the rest
# (shadow, the machine's keys, services' configuration) stays unreadable.
ETC = [
    "passwd",
    "group",
    "hosts",
    "host.conf",
    "resolv.conf",
    "nsswitch.conf",
    "gai.conf",
    "localtime",
    "timezone",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "mime.types",
    "ssl",
    "ca-certificates",
    "fonts",
    "jupyter",
    "ipython",
    "matplotlibrc",
    "os-release",
]


class RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class Unconfined(Exception):
    """The sandbox cannot be set up."""


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _call(what: str, result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise Unconfined(f"{what}: {os.strerror(err)}")
    return result


def handled_rights(abi: int) -> int:
    rights = (
        EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR
    ) | (MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_BLOCK | MAKE_SYM)
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def allowed_paths(home: Path) -> list[tuple[Path, int]]:
    """Each path the server may use, with its rights."""
    everything = -1
    rules: list[tuple[Path, int]] = []
    for folder in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/proc", "/sys"):
        rules.append((Path(folder), READ))
    for prefix in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        rules.append((Path(prefix), READ))
    rules.append((Path(__file__).resolve().parent, READ))
    rules += [(Path("/etc") / name, READ) for name in ETC]
    rules.append((Path("/dev"), READ | WRITE_FILE | IOCTL_DEV))
    rules.append((home, everything))
    return [(p, r) for p, r in rules if p.exists()]


def confine(home: Path) -> None:
    """Landlock over this process and its children; then no capabilities."""
    abi = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)
    if abi < 1:
        raise Unconfined("this kernel has no Landlock")
    handled = handled_rights(abi)
    attr = RulesetAttr(handled, 0, SCOPE_SIGNAL if abi >= 6 else 0)
    ruleset = _call(
        "landlock_create_ruleset",
        libc.syscall(
            SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
        ),
    )
    for path, rights in allowed_paths(home):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            allowed = handled & rights
            if not path.is_dir():
                allowed &= FILE_RIGHTS
            rule = PathBeneath(allowed, fd)
            _call(
                f"landlock_add_rule {path}",
                libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0),
            )
        finally:
            os.close(fd)
    _drop_capabilities()
    _call("no_new_privs", libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    _call("landlock_restrict_self", libc.syscall(SYS_RESTRICT_SELF, ruleset, 0))
    os.close(ruleset)


def _drop_capabilities() -> None:
    if os.geteuid() != 0:
        return  # an unprivileged user has none to drop
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            break  # past the last capability this kernel knows
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = CapHeader(CAP_VERSION_3, 0)
    data = (CapData * 2)()
    _call("capset", libc.capset(ctypes.byref(header), data))


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: lab_sandbox.py <server> [args...]")
    home = Path.cwd().resolve()
    tmp = home / ".tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    os.environ.update({"HOME": str(home), "TMPDIR": str(tmp)})
    try:
        confine(home)
    except Unconfined as e:
        if os.environ.get("DELTA_BOARD_LAB_UNCONFINED") != "1":
            sys.exit(
                f"lab_sandbox: refusing to start an unconfined notebook server ({e}); "
                "set DELTA_BOARD_LAB_UNCONFINED=1 to run it as the board's user anyway"
            )
        print(f"lab_sandbox: running unconfined ({e})", file=sys.stderr)
    os.execv(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
