"""Deltaboard in front of a real `delta-worker` (three holders on a
`delta-coordinator`): the first administrator comes from the one-time
set-up address, accounts wait for approval, each person's API address
runs `delta.Client` unchanged with exact answers, and one person can
neither see nor fetch another's tasks by page or API. Unauthenticated
and cross-site requests are refused, wrong passwords are throttled.
The browser test drives Debian's Chromium through the pages: sign-in,
tokens, a task's live log and its result's download; screenshots of the
main pages land in tests/e2e/artifacts/board/."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
import worker_tasks
from workers import Holders, start_holders

import delta
from board import Board, Person

if TYPE_CHECKING:
    from browser import Browsing
    from playwright.sync_api import Page

BLOCK_MS = 500
ADMIN = ("root", "correct horse battery")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "board"


@dataclass
class Site:
    holders: Holders
    board: Board
    admin: Person


def password_of(name: str) -> str:
    return f"{name} has a long password"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("board")
    with start_holders("coordinator", root, "board", BLOCK_MS) as holders:
        w = holders.workers[0]
        board = Board(root / "board-state", w.api, w.folder / "api.token", jupyterhub=True)
        with board:
            assert board.setup_url, "a first start prints the set-up address"
            admin = Person(board.url)
            path = urllib.parse.urlsplit(board.setup_url)
            token = urllib.parse.parse_qs(path.query)["token"][0]
            setup = {"name": ADMIN[0], "password": ADMIN[1], "again": ADMIN[1]}
            wrong = admin.post("/setup", {**setup, "token": "0" * 64})
            assert wrong.status_code == 403 and "wrong or already used" in wrong.text
            done = admin.post("/setup", {**setup, "token": token})
            assert done.status_code == 200 and "All tasks" in done.text, done.text
            again = Person(board.url).post("/setup", {**setup, "token": token})
            assert again.status_code == 410, "the set-up address works once"
            yield Site(holders, board, admin)


def member(site: Site, name: str) -> Person:
    """A signed-up, approved and signed-in member."""
    p = site.board.person()
    r = p.sign_up(name, password_of(name))
    assert r.status_code == 200 and "must approve it" in r.text, r.text
    waiting = p.sign_in(name, password_of(name))
    assert waiting.status_code == 403 and "waits for an administrator" in waiting.text
    site.admin.get("/users")
    approved = site.admin.post(f"/users/{name}/approve", {})
    assert (
        approved.status_code == 200 and f'data-user="{name}" data-state="active"' in approved.text
    )
    signed = p.sign_in(name, password_of(name))
    assert signed.status_code == 200 and "My tasks" in signed.text, signed.text
    return p


def test_members_use_their_own_address_and_see_only_their_own_tasks(site: Site) -> None:
    ann, bob = member(site, "ann"), member(site, "bob")
    ann_token, bob_token = ann.new_token("laptop"), bob.new_token()
    ann_client = delta.Client(site.board.api("ann"), ann_token)
    bob_client = delta.Client(site.board.api("bob"), bob_token)

    handle = ann_client.submit(worker_tasks.Summary)
    result = handle.wait(timeout=120, progress=False)
    pooled = site.holders.pooled()
    assert result["n"] == len(pooled)
    assert result["age"] == pytest.approx(pooled["age"].mean(), rel=1e-12)
    direct = site.holders.client().task(handle.id).result()
    assert direct == result, "the board passes the worker's answer on unchanged"

    # Bob's address knows nothing of Ann's task, by API and by page.
    for call in (
        lambda: bob_client.task(handle.id).status(),
        lambda: bob_client.task(handle.id).result(),
        lambda: bob_client.call("delta_logs", {"id": handle.id, "from": 0}),
        lambda: bob_client.call("delta_events", {"id": handle.id, "from": 0}),
    ):
        with pytest.raises(delta.ClientError) as refused:
            call()
        assert refused.value.code == -32004 and f"no task {handle.id}" in str(refused.value)
    assert [t.id for t in bob_client.tasks()] == []
    assert [t.id for t in ann_client.tasks()] == [handle.id]
    for path in (
        f"/tasks/{handle.id}",
        f"/tasks/{handle.id}/result.json",
        f"/tasks/{handle.id}/log",
    ):
        assert bob.get(path).status_code == 404, path
    assert handle.id not in bob.get("/tasks").text

    # Ann's pages show her task and its exact result.
    page = ann.get(f"/tasks/{handle.id}")
    assert page.status_code == 200 and 'id="state" class="state done"' in page.text
    download = ann.get(f"/tasks/{handle.id}/result.json")
    assert download.headers["content-disposition"].startswith("attachment")
    worker_answer = site.holders.client().call("delta_result", {"id": handle.id})["result"]
    assert download.json() == worker_answer
    # The administrator sees every task, with its owner.
    listing = site.admin.get("/tasks").text
    assert f'data-task="{handle.id}"' in listing and "<td>ann</td>" in listing

    # Tokens work only on their own user's address, and not once revoked.
    with pytest.raises(delta.ClientError) as wrong_address:
        delta.Client(site.board.api("bob"), ann_token).tasks()
    assert wrong_address.value.code == 401
    no_token = requests.post(site.board.api("ann"), data=b"{}", timeout=10)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
    tokens = ann.get("/tokens").text
    token_id = re.search(r'data-token="(\d+)"', tokens)
    assert token_id
    ann.post(f"/tokens/{token_id.group(1)}/revoke", {})
    with pytest.raises(delta.ClientError) as revoked:
        ann_client.tasks()
    assert revoked.value.code == 401

    # What the filter refuses, with reasons.
    with pytest.raises(delta.ClientError) as admin_only:
        bob_client.call("delta_refreshDatasets", {})
    assert admin_only.value.code == -32003
    with pytest.raises(delta.ClientError) as other_method:
        bob_client.call("system_health", {})
    assert other_method.value.code == -32601
    batch = requests.post(
        site.board.api("bob"),
        data=json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "delta_list"}]),
        headers={"Authorization": f"Bearer {bob_token}"},
        timeout=10,
    )
    assert batch.json()["error"]["code"] == -32600
    schemas = bob_client.datasets()
    assert [d["name"] for d in schemas] == ["patients"]
    # The network's members, as the ledger lists them, through bob's address.
    members = {m["account"]: m for m in bob_client.members()}
    assert set(members) == {w.account for w in site.holders.workers}
    board_worker = site.holders.workers[0]
    assert [a for a, m in members.items() if m["this_worker"]] == [board_worker.account]
    assert members[board_worker.account]["name"] == board_worker.name
    # The holder's policy, as its worker states it.
    policy = bob_client.policy()
    assert policy == site.holders.client().policy()
    assert policy["requesters"] == "*" and policy["min_members"] == 2
    assert schemas[0]["privacy"] is None, "these test holders require no DP"


def test_cross_site_and_unauthenticated_requests_are_refused(site: Site) -> None:
    carl = member(site, "carl")
    before = carl.get("/tokens").text.count("data-token=")
    evil = carl.post("/tokens", {"label": "evil"}, origin="http://evil.example")
    assert evil.status_code == 403 and "cross-site request refused" in evil.text
    forged = carl.post("/tokens", {"label": "forged", "csrf": "0" * 32})
    assert forged.status_code == 403 and "CSRF token is wrong" in forged.text
    assert carl.get("/tokens").text.count("data-token=") == before, "nothing was created"

    stranger = site.board.person()
    for path in ("/tasks", "/tokens", "/datasets", "/members", "/node", "/users"):
        r = stranger.get(path)
        assert r.url.endswith("/login") and 'id="login"' in r.text, path
    members_page = carl.get("/users")
    assert members_page.status_code == 403, "the users page is for administrators"
    promoted = carl.post("/users/carl/make-admin", {})
    assert promoted.status_code == 403


def test_wrong_passwords_lock_the_name(site: Site) -> None:
    member(site, "dora")
    p = site.board.person()
    for _ in range(5):
        wrong = p.sign_in("dora", "not the password at all")
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    locked = p.sign_in("dora", password_of("dora"))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "Too many wrong passwords" in locked.text
    unknown = p.sign_in("nobody-here", "whatever password")
    assert unknown.status_code == 401, "unknown names get the same answer as wrong passwords"


def test_in_a_browser_sign_in_watch_a_live_log_and_download_the_result(site: Site) -> None:
    from browser import browser_page

    erin = member(site, "erin")
    client = delta.Client(site.board.api("erin"), erin.new_token("notebook"))
    with browser_page(ARTIFACTS) as browsing:
        page = browsing.page()
        page.goto(site.board.url + "/login")
        browsing.screenshot(page, "login")
        page.fill("input[name=name]", "erin")
        page.fill("input[name=password]", password_of("erin"))
        page.click("form#login button")
        page.wait_for_selector("table#tasks")

        slow = client.submit(worker_tasks.SlowMean)
        page.goto(f"{site.board.url}/tasks/{slow.id}")
        assert page.inner_text("#state") == "running"
        shown = len(page.inner_text("#log"))
        # The live view appends lines while the task runs, then reloads
        # with the result when it ends.
        page.wait_for_function(
            f"document.getElementById('log').innerText.length > {shown}", timeout=60_000
        )
        page.wait_for_selector("a#download", timeout=120_000)
        assert page.inner_text("#state") == "done"
        browsing.screenshot(page, "task")
        with page.expect_download() as fetched:
            page.click("a#download")
        saved = browsing.downloads / "result.json"
        fetched.value.save_as(str(saved))
        assert (
            json.loads(saved.read_text())
            == site.holders.client().call("delta_result", {"id": slow.id})["result"]
        )
        assert slow.result()["n"] == len(site.holders.pooled())

        page.goto(site.board.url + "/tasks")
        assert page.locator(f'tr[data-task="{slow.id}"]').count() == 1
        browsing.screenshot(page, "tasks")
        page.goto(site.board.url + "/tokens")
        page.fill("input[name=label]", "browser")
        page.click("#new-token-form button")
        assert page.inner_text("code#new-token").startswith("dbt_")
        browsing.screenshot(page, "tokens")
        page.goto(site.board.url + "/datasets")
        assert page.locator('section[data-dataset="patients"]').count() == 1
        browsing.screenshot(page, "datasets")
        page.goto(site.board.url + "/members")
        for w in site.holders.workers:
            assert page.locator(f'tr[data-member="{w.account}"]').count() == 1
        browsing.screenshot(page, "members")
        page.goto(site.board.url + "/node")
        assert "reachable" in page.inner_text("#node-state")
        assert page.inner_text('#policy dd[data-policy="min_members"]') == "2"
        browsing.screenshot(page, "node")

        # Another member's browser sees none of erin's tasks.
        member(site, "fred")
        fred = browsing.page()
        fred.goto(site.board.url + "/login")
        fred.fill("input[name=name]", "fred")
        fred.fill("input[name=password]", password_of("fred"))
        fred.click("form#login button")
        fred.wait_for_selector("table#tasks")
        assert fred.locator(f'tr[data-task="{slow.id}"]').count() == 0
        fred.goto(f"{site.board.url}/tasks/{slow.id}")
        assert f"no task {slow.id}" in fred.inner_text("main")

        other = browsing.page()
        other.goto(site.board.url + "/login")
        other.fill("input[name=name]", ADMIN[0])
        other.fill("input[name=password]", ADMIN[1])
        other.click("form#login button")
        other.wait_for_selector("table#tasks")
        assert other.locator(f'tr[data-task="{slow.id}"]').count() == 1, "the admin sees all"
        other.goto(site.board.url + "/users")
        browsing.screenshot(other, "users")


NOTEBOOK_CELL = """import delta

class Count(delta.Analytics):
    dataset = "patients"

    def execute(self, df):
        return {"n": df["age"].count(), "age": df["age"].mean()}

handle = delta.Client().submit(Count)
result = handle.wait(timeout=120, progress=False)
for path in PROBES:
    try:
        open(path, "rb").read(1)
        print("PROBE", path, "read")
    except OSError as e:
        print("PROBE", path, type(e).__name__)
print("RESULT", handle.id, int(result["n"]), repr(float(result["age"])))
"""


def test_a_person_signs_up_is_approved_and_submits_from_jupyterlab(site: Site) -> None:
    """The whole journey in the browser: sign up, approval by an
    administrator, sign in, a token, JupyterLab, a notebook cell that
    submits through the person's own address."""
    from browser import browser_page

    site.board.wait_for_lab()
    with browser_page(ARTIFACTS) as browsing:
        page = browsing.page(viewport={"width": 1400, "height": 900})
        page.goto(site.board.url + "/signup")
        page.fill("input[name=name]", "gwen")
        page.fill("input[name=password]", password_of("gwen"))
        page.fill("input[name=again]", password_of("gwen"))
        page.click("form#signup button")
        assert "must approve it" in page.inner_text("main")
        browsing.screenshot(page, "signup")
        page.goto(site.board.url + "/login")
        page.fill("input[name=name]", "gwen")
        page.fill("input[name=password]", password_of("gwen"))
        page.click("form#login button")
        assert "waits for an administrator" in page.inner_text("main")

        admin = browsing.page()
        admin.goto(site.board.url + "/login")
        admin.fill("input[name=name]", ADMIN[0])
        admin.fill("input[name=password]", ADMIN[1])
        admin.click("form#login button")
        admin.goto(site.board.url + "/users")
        admin.click('tr[data-user="gwen"] button[data-action="approve"]')
        admin.wait_for_selector('tr[data-user="gwen"][data-state="active"]')
        browsing.screenshot(admin, "approve")

        page.goto(site.board.url + "/login")
        page.fill("input[name=name]", "gwen")
        page.fill("input[name=password]", password_of("gwen"))
        page.click("form#login button")
        page.wait_for_selector("table#tasks")
        page.goto(site.board.url + "/tokens")
        page.fill("input[name=label]", "laptop")
        page.click("#new-token-form button")
        assert page.inner_text("code#new-token").startswith("dbt_")

        gwen = site.board.person()
        assert gwen.get("/user/gwen/lab").url.endswith("/login"), "signed out: no Lab"
        gwen.sign_in("gwen", password_of("gwen"))
        hal = member(site, "hal")
        assert hal.get("/user/gwen/api/status").status_code == 403, "another person's server"

        page.click("nav a[href='/lab']")
        lab = page.frame_locator("iframe#lab")
        # The hub starts gwen's server on the first visit (about 15 s here).
        lab.locator('.jp-LauncherCard[data-category="Notebook"]').first.click(timeout=240_000)
        editor = lab.locator(".jp-Notebook .jp-Cell .cm-content").first
        editor.click(timeout=60_000)
        # What a notebook must not read: the holder's raw data, the worker's
        # API token (every task) and configuration, the board's database.
        w = site.holders.workers[0]
        probes = [
            *(str(p) for p in sorted(w.folder.glob("patients.*"))),
            str(w.folder / "api.token"),
            str(w.folder / "worker.toml"),
            str(site.board.state / "board.sqlite"),
        ]
        assert len(probes) == 4 and all(Path(p).is_file() for p in probes)
        page.keyboard.insert_text(NOTEBOOK_CELL.replace("PROBES", repr(probes)))
        printed = run_first_cell(site, browsing, page)
        assert len(printed) == len(probes) + 1, f"the cell printed {printed}"
        # The notebook is confined to its person's folder (lab_sandbox.py).
        assert printed[:-1] == [f"PROBE {p} PermissionError" for p in probes]
        words = printed[-1].split()
        assert len(words) == 4, f"the cell printed {printed}"
        _, task_id, n, age = words
        browsing.screenshot(page, "jupyterlab")
    pooled = site.holders.pooled()
    assert int(n) == len(pooled)
    assert float(age) == pytest.approx(pooled["age"].mean(), rel=1e-12)
    # Submitted as gwen, through her own address: hers to see, nobody else's.
    assert f'data-task="{task_id}"' in gwen.get("/tasks").text
    assert hal.get(f"/tasks/{task_id}").status_code == 404
    listing = site.admin.get("/tasks").text
    row = listing[listing.index(f'data-task="{task_id}"') :]
    assert "<td>gwen</td>" in row[: row.index("</tr>")]
    tokens = gwen.get("/tokens").text
    assert "<td>jupyterlab</td>" in tokens, "the notebook's token is one of gwen's, revocable"
    logged = [line for line in site.board.log if "auth_ticket=" in line]
    assert logged and all("auth_ticket=[secret]" in line for line in logged), "tickets never logged"


def run_first_cell(site: Site, browsing: Browsing, page: Page) -> list[str]:
    """Runs the notebook's first cell, whose code was just typed, and
    returns the lines it printed. A cell that fails, or never finishes,
    fails the test with what the notebook showed and the board's log (its
    hub's and the person's server's output), not with a bare timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    lab = page.frame_locator("iframe#lab")
    cell = lab.locator(".jp-Notebook .jp-Cell").first

    def shown() -> str:
        outputs = "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())
        shot = browsing.screenshot(page, "jupyterlab-failed")
        log = "".join(site.board.log[-80:])
        return f"the cell showed:\n{outputs}\n(screenshot {shot})\nthe board's log:\n{log}"

    try:
        # The whole cell must be in the editor before it runs.
        cell.locator(".cm-content").filter(has_text='print("RESULT"').wait_for(timeout=30_000)
        lab.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
        page.keyboard.press("Shift+Enter")
        # "[1]:" once the kernel has run it ("[*]:" while it runs); the cell
        # itself gives up on its task after 120 s.
        cell.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[\d+\]")).wait_for(
            timeout=240_000
        )
    except PlaywrightTimeoutError as e:
        raise AssertionError(f"the notebook cell did not finish ({e.message})\n{shown()}") from e
    output = cell.locator(".jp-OutputArea-output").filter(has_text="RESULT")
    if output.count() != 1:
        raise AssertionError(f"the notebook cell printed no result\n{shown()}")
    return output.inner_text().strip().splitlines()


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_board_killed_outright_takes_its_jupyterhub_along(site: Site, tmp_path: Path) -> None:
    """No hub outlives its board: the next board's hub would find this
    one's database and ports taken."""
    w = site.holders.workers[0]
    state = tmp_path / "state"
    with Board(state, w.api, w.folder / "api.token", jupyterhub=True) as board:
        board.wait_for_lab()
        hub = int((state / "jupyterhub" / "jupyterhub.pid").read_text())
        assert running(hub)
        assert board.proc is not None
        os.kill(board.proc.pid, signal.SIGKILL)  # the board alone, not its group
        board.proc.wait()
        deadline = time.monotonic() + 30
        while running(hub) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(hub), "JupyterHub still runs after its board was killed"
