// The watcher page: its status and actions, a chart, and its processes (pid, age, cpu,
// memory, status, a small chart each) with kill and signal.

import { api, inOrder, retrying } from "./api.js";
import { Chart } from "./chart.js";
import { age, h, percent, setText } from "./format.js";
import { live } from "./live.js";
import { notify } from "./notify.js";
import { ActionQueue, hookFailures, statusLabel } from "./watchers.js";

const NAME = document.getElementById("watcher").dataset.name;
const queue = new ActionQueue(refresh);
const chart = new Chart(document.getElementById("watcher-chart"), { axes: true, fluid: true });
const tbody = document.getElementById("process-rows");
const signalTemplate = document.getElementById("signal-select");
const procs = new Map(); // pid -> {tr, cells, chart}
let watcher = null;
let history = {};

function byId(id) {
  return document.getElementById(id);
}

function buildProcess(proc) {
  const pid = proc.pid;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", "120");
  svg.setAttribute("height", "26");
  const kill = h("button", { type: "button", class: "kill small danger" }, "Kill");
  const select = signalTemplate.content.firstElementChild.cloneNode(true);
  select.setAttribute("aria-label", `signal for process ${pid}`);
  const signalForm = h(
    "form",
    { class: "signal-form" },
    select,
    h("button", { type: "submit", class: "small send-signal" }, "Send"),
  );
  const cells = {
    status: h("td", { class: "pstatus" }),
    age: h("td", { class: "num age" }),
    cpu: h("td", { class: "num cpu" }),
    mem: h("td", { class: "num mem" }),
  };
  const tr = h(
    "tr",
    { dataset: { pid: String(pid) } },
    h("td", { class: "num pid", title: proc.cmdline || "" }, String(pid)),
    h("td", { class: "num wid" }, proc.wid ?? "–"),
    cells.status,
    cells.age,
    cells.cpu,
    cells.mem,
    h("td", { class: "col-chart" }, svg),
    h("td", { class: "col-actions" }, kill, signalForm),
  );
  const row = { tr, cells, chart: new Chart(svg), base: 0, ageAt: 0 };
  kill.addEventListener("click", () => queue.run(kill, NAME, "kill", { pid }));
  signalForm.addEventListener("submit", (event) => {
    event.preventDefault();
    queue.run(signalForm.querySelector("button"), NAME, "signal", { pid, signum: select.value });
  });
  if (history[String(pid)]) row.chart.load(history[String(pid)]);
  return row;
}

/** A redraw of the charts is due after this long without one (ms; the interval is 1 s). */
const SLIDE_MS = 900;

/** The age of a process, counted on from the last answer. */
function showAge(row) {
  if (row.base !== null) setText(row.cells.age, age(row.base + (performance.now() - row.ageAt) / 1000));
}

function updateProcess(row, proc) {
  row.cells.status.textContent = proc.status || "–";
  row.cells.status.className = `pstatus pstatus-${proc.status || "unknown"}`;
  row.base = proc.age ?? null;
  row.ageAt = performance.now();
  row.cells.age.textContent = age(row.base);
  row.cells.cpu.textContent = percent(proc.cpu);
  row.cells.mem.textContent = proc.mem_info1 ? `${percent(proc.mem)} · ${proc.mem_info1}` : percent(proc.mem);
}

function renderProcesses(list) {
  const seen = new Set();
  const fragment = document.createDocumentFragment();
  for (const proc of [...list].sort((a, b) => (a.wid ?? 0) - (b.wid ?? 0) || a.pid - b.pid)) {
    seen.add(proc.pid);
    let row = procs.get(proc.pid);
    if (!row) {
      row = buildProcess(proc);
      procs.set(proc.pid, row);
    }
    updateProcess(row, proc);
    fragment.appendChild(row.tr);
  }
  for (const pid of [...procs.keys()]) if (!seen.has(pid)) procs.delete(pid);
  if (list.length) tbody.replaceChildren(fragment);
  else tbody.replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "8" }, "No process running.")));
  byId("proc-summary").textContent = `${list.length} running`;
}

function renderOptions(options) {
  const dl = byId("options");
  const items = Object.keys(options || {}).sort().map((key) => {
    const value = options[key];
    const text = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
    return h("div", {}, h("dt", {}, key), h("dd", {}, text));
  });
  dl.replaceChildren(...items);
}

function renderWatcher(w) {
  watcher = w;
  const toggle = byId("toggle");
  toggle.textContent = statusLabel(w.status);
  toggle.className = `toggle status-${w.status}`;
  toggle.title = w.status === "stopped" ? "click to start" : "click to stop";
  const count = byId("count");
  count.textContent = w.processes.length === w.numprocesses ? `${w.numprocesses}` : `${w.processes.length} / ${w.numprocesses}`;
  const input = byId("numprocesses");
  if (document.activeElement !== input) input.value = w.numprocesses;
  const tags = [];
  if (w.support) tags.push(h("span", { class: "tag" }, "support"));
  if (w.gave_up) tags.push(h("span", { class: "tag warn" }, `gave up: ${w.gave_up.reason || w.gave_up}`));
  if (w.reload_failed) tags.push(h("span", { class: "tag warn" }, `reload failed: ${w.reload_failed.reason}`));
  if (w.flapping) tags.push(h("span", { class: "tag warn" }, `flapping: ${w.flapping.reason || "restarts paused"}`));
  for (const reason of hookFailures(w.hook_failed)) {
    tags.push(h("span", { class: "tag warn" }, `hook failed: ${reason}`));
  }
  byId("tags").replaceChildren(...tags);
  renderProcesses(w.processes);
  renderOptions(w.options);
  document.body.dataset.ready = "true";
}

// one at a time: an older answer never replaces a newer one (api.js inOrder)
const load = inOrder(async () => {
  renderWatcher((await api.get(`/api/watchers/${encodeURIComponent(NAME)}`)).watcher);
});

function report(exc) {
  if (exc.status === 404) {
    tbody.replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "8" }, `No watcher named ${NAME}.`)));
    notify(`no watcher named ${NAME}`, "error");
  } else if (exc.code !== "disconnected") {
    notify(exc.message, "error"); // disconnected: the banner says it
  }
}

async function refresh() {
  try {
    await load();
  } catch (exc) {
    report(exc);
  }
}

async function loadHistory() {
  try {
    const reply = await api.get(`/api/watchers/${encodeURIComponent(NAME)}/stats`);
    chart.load(reply.watcher || []);
    history = reply.processes || {};
    for (const [pid, row] of procs) if (history[String(pid)]) row.chart.load(history[String(pid)]);
  } catch (exc) {
    // the charts fill from the live stream
  }
}

let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 200);
}

byId("toggle").addEventListener("click", (event) => {
  if (!watcher) return;
  queue.run(event.currentTarget, NAME, watcher.status === "stopped" ? "start" : "stop");
});
byId("incr").addEventListener("click", (e) => queue.run(e.currentTarget, NAME, "incr", { nb: 1 }));
byId("decr").addEventListener("click", (e) => queue.run(e.currentTarget, NAME, "decr", { nb: 1 }));
byId("restart").addEventListener("click", (e) => queue.run(e.currentTarget, NAME, "restart"));
byId("reload").addEventListener("click", (e) => queue.run(e.currentTarget, NAME, "reload"));
byId("setnum").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = byId("numprocesses");
  const value = Number(input.value);
  if (input.value === "" || !Number.isInteger(value) || value < 0) {
    notify("number of processes: a whole number from 0", "error");
    return;
  }
  queue.run(event.currentTarget.querySelector("button"), NAME, "numprocesses", { value });
});
byId("signal-all").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  queue.run(form.querySelector("button"), NAME, "signal", { signum: form.signum.value });
});
byId("remove").addEventListener("click", async (event) => {
  if (!window.confirm(`Remove the watcher ${NAME} and stop its processes?`)) return;
  const done = await queue.run(event.currentTarget, NAME, "remove");
  if (done) window.location.assign("/");
});

live.on("event", (msg) => {
  if (msg.watcher === NAME) refreshSoon();
});
live.on("ready", refreshSoon); // the events that came before the feed was up
live.on("connected", () => refresh().then(loadHistory));
live.on("stats", (msg) => {
  if (msg.watcher !== NAME) return;
  if (msg.pid === null || msg.pid === undefined) {
    chart.push(msg.time, [msg.cpu, msg.mem]);
    return;
  }
  const row = procs.get(Number(msg.pid));
  if (!row) return;
  row.chart.push(msg.time, [msg.cpu, msg.mem]);
  setText(row.cells.cpu, percent(msg.cpu));
  showAge(row); // in the frame of its chart's redraw
});
live.subscribe({ stats: true, stats_watcher: NAME, output: null });
live.start();
retrying(load, report).then(loadHistory); // until it works (see home.js)
// Once a second, what no stats point moved meanwhile: the charts' time window slides and the
// processes' ages count on. A chart a point redrew within the second (and its row's age) waits
// for its next point: one redraw a second, not two.
setInterval(() => {
  chart.slide(SLIDE_MS);
  for (const row of procs.values()) if (row.chart.slide(SLIDE_MS)) showAge(row);
}, 1000);
