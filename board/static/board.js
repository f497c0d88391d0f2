// Deltaboard's live views: a running task's log, state and history are
// polled once a second from the board (same origin, the session cookie);
// the page reloads when the task ends so that its result appears.
"use strict";

(function () {
  const log = document.getElementById("log");
  if (!log || log.dataset.state !== "running") return;
  const task = log.dataset.task;
  let next = Number(log.dataset.next || 0);
  const state = document.getElementById("state");
  const round = document.getElementById("round");
  const history = document.getElementById("history");
  const marker = "delta.learning round: ";

  async function refreshHistory() {
    const r = await fetch(`/tasks/${encodeURIComponent(task)}/history`, { credentials: "same-origin" });
    if (r.ok && history) history.innerHTML = await r.text();
  }

  async function poll() {
    try {
      const r = await fetch(`/tasks/${encodeURIComponent(task)}/log?from=${next}`, { credentials: "same-origin" });
      if (!r.ok) return setTimeout(poll, 3000);
      const update = await r.json();
      if (update.lines.length) {
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.append(document.createTextNode(update.lines.join("\n") + "\n"));
        if (atBottom) log.scrollTop = log.scrollHeight;
        if (update.lines.some((l) => l.includes(marker))) await refreshHistory();
      }
      next = update.next;
      if (round) round.textContent = `${update.round + 1} / ${update.rounds}`;
      if (update.state !== "running") {
        if (state) state.textContent = update.state;
        window.location.reload();
        return;
      }
    } catch (e) {
      // The board restarting or the network away: try again shortly.
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
