// The home page: every watcher with live status, process count, cpu, memory and a chart;
// circusd and circusd-stats status. Rows are built once and updated in place.

import { api, inOrder, retrying } from "./api.js";
import { Chart } from "./chart.js";
import { age, h, percent, setText } from "./format.js";
import { live } from "./live.js";
import { notify } from "./notify.js";
import { ActionQueue, hookFailures, statusLabel, watcherUrl } from "./watchers.js";

const tbody = document.getElementById("watcher-rows");
const rows = new Map(); // name -> {tr, cells, chart, watcher}
const queue = new ActionQueue(refresh);

function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

function buildRow(watcher) {
  const name = watcher.name;
  const toggle = h("button", { class: "toggle", type: "button", title: "start / stop" });
  const decr = h("button", { class: "decr small", type: "button", title: "one process less" }, "−");
  const incr = h("button", { class: "incr small", type: "button", title: "one process more" }, "+");
  const count = h("span", { class: "count" });
  const numInput = h("input", {
    class: "numprocesses-input",
    type: "number",
    min: "0",
    max: "1000",
    "aria-label": `number of processes of ${name}`,
  });
  const setForm = h(
    "form",
    { class: "setnum" },
    numInput,
    h("button", { class: "set-numprocesses small", type: "submit" }, "Set"),
  );
  const restart = h("button", { class: "restart small", type: "button" }, "Restart");
  const reload = h("button", { class: "reload small", type: "button" }, "Reload");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", "140");
  svg.setAttribute("height", "30");
  const link = h("a", { href: watcherUrl(name), class: "name" }, name);
  const tags = h("span", { class: "tags" });
  const cpu = h("td", { class: "num cpu" });
  const mem = h("td", { class: "num mem" });
  const tr = h(
    "tr",
    { dataset: { watcher: name } },
    h("td", { class: "col-status" }, toggle),
    h("td", { class: "col-name" }, link, tags),
    h("td", { class: "col-procs" }, h("span", { class: "stepper" }, decr, count, incr), setForm),
    cpu,
    mem,
    h("td", { class: "col-chart" }, svg),
    h("td", { class: "col-actions" }, restart, reload),
  );
  const row = { tr, toggle, count, numInput, cpu, mem, tags, chart: new Chart(svg), watcher };

  toggle.addEventListener("click", () => {
    const action = row.watcher.status === "stopped" ? "start" : "stop";
    queue.run(toggle, name, action);
  });
  incr.addEventListener("click", () => queue.run(incr, name, "incr", { nb: 1 }));
  decr.addEventListener("click", () => queue.run(decr, name, "decr", { nb: 1 }));
  restart.addEventListener("click", () => queue.run(restart, name, "restart"));
  reload.addEventListener("click", () => queue.run(reload, name, "reload"));
  setForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = Number(numInput.value);
    if (numInput.value === "" || !Number.isInteger(value) || value < 0) {
      notify(`number of processes of ${name}: a whole number from 0`, "error");
      return;
    }
    queue.run(setForm.querySelector("button"), name, "numprocesses", { value });
  });
  return row;
}

function updateRow(row, watcher) {
  row.watcher = watcher;
  const status = watcher.status;
  row.tr.dataset.status = status;
  row.toggle.textContent = statusLabel(status);
  row.toggle.className = `toggle status-${status}`;
  row.toggle.title = status === "stopped" ? "click to start" : "click to stop";
  row.toggle.setAttribute("aria-pressed", status === "stopped" ? "false" : "true");
  const live = watcher.processes;
  const target = watcher.numprocesses;
  row.count.textContent = live === target ? `${live}` : `${live} / ${target}`;
  row.count.title = `${live} running, ${target} wanted`;
  if (document.activeElement !== row.numInput) row.numInput.value = target;
  setText(row.cpu, percent(watcher.cpu));
  setText(row.mem, percent(watcher.mem));
  const tags = [];
  if (watcher.support) tags.push(h("span", { class: "tag" }, "support"));
  if (watcher.gave_up) tags.push(h("span", { class: "tag warn", title: String(watcher.gave_up.reason || watcher.gave_up) }, "gave up"));
  if (watcher.reload_failed) tags.push(h("span", { class: "tag warn", title: String(watcher.reload_failed.reason) }, "reload failed"));
  if (watcher.flapping) tags.push(h("span", { class: "tag warn", title: String(watcher.flapping.reason || "flapping") }, "flapping"));
  if (watcher.hook_failed) tags.push(h("span", { class: "tag warn", title: hookFailures(watcher.hook_failed).join("\n") }, "hook failed"));
  if (watcher.outdated && watcher.outdated.length) tags.push(h("span", { class: "tag" }, "outdated"));
  row.tags.replaceChildren(...tags);
}

function render(watchers) {
  const seen = new Set();
  const wanted = [];
  for (const watcher of watchers) {
    seen.add(watcher.name);
    let row = rows.get(watcher.name);
    if (!row) {
      row = buildRow(watcher);
      rows.set(watcher.name, row);
    }
    updateRow(row, watcher);
    wanted.push(row.tr);
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.tr.remove();
      rows.delete(name);
    }
  }
  // rows are moved only when the list's order changed: moving a row out of the page and back
  // took the focus from its number box, so the next refresh put back the count being typed over
  const current = tbody.children;
  if (current.length !== wanted.length || wanted.some((tr, i) => current[i] !== tr)) {
    tbody.replaceChildren(...wanted);
  }
  if (!watchers.length) {
    tbody.replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "7" }, "No watchers yet. ", h("a", { href: "/add" }, "Add one"), ".")));
  }
  applyFilter();
  renderTotals(watchers);
  if (!document.body.dataset.ready) {
    document.body.dataset.ready = "true";
    performance.mark("watchers-rendered"); // bench/web.py: navigation -> rendered table
  }
}

function renderTotals(watchers) {
  const card = document.getElementById("totals-card");
  field(card, "watchers").textContent = watchers.length;
  field(card, "active").textContent = watchers.filter((w) => w.status === "active").length;
  field(card, "processes").textContent = watchers.reduce((sum, w) => sum + (w.processes || 0), 0);
}

function renderStatus(status) {
  const card = document.getElementById("circusd-card");
  const up = Boolean(status.connected);
  card.classList.toggle("down", !up);
  field(card, "state").className = `dot ${up ? "ok" : "bad"}`;
  const info = status.circusd || {};
  field(card, "pid").textContent = up ? info.pid ?? "–" : "down";
  field(card, "cpu").textContent = up ? percent(info.cpu) : "–";
  field(card, "mem").textContent = up ? info.mem_info1 || percent(info.mem) : "–";
  field(card, "age").textContent = up ? age(info.age) : "–";
  const stats = status.stats || {};
  const statsCard = document.getElementById("stats-card");
  field(statsCard, "state").className = `dot ${stats.connected ? "ok" : "off"}`;
  field(statsCard, "text").textContent = stats.connected
    ? "streaming live figures"
    : "not running: no cpu/memory figures (set statsd = True)";
}

// one at a time: an older answer never replaces a newer one (api.js inOrder)
const load = inOrder(async () => {
  render((await api.get("/api/watchers")).watchers);
});

function report(exc) {
  if (exc.code !== "disconnected") notify(`watchers: ${exc.message}`, "error"); // else the banner
}

async function refresh() {
  try {
    await load();
  } catch (exc) {
    report(exc);
  }
}

async function refreshStatus() {
  try {
    renderStatus(await api.get("/api/status"));
  } catch (exc) {
    renderStatus({ connected: false });
  }
}

async function loadHistory() {
  try {
    const reply = await api.get("/api/stats");
    for (const [name, points] of Object.entries(reply.watchers || {})) {
      const row = rows.get(name);
      if (row) row.chart.load(points);
    }
  } catch (exc) {
    // no history yet: the charts fill from the live stream
  }
}

function applyFilter() {
  const text = document.getElementById("filter").value.trim().toLowerCase();
  for (const [name, row] of rows) row.tr.hidden = Boolean(text) && !name.includes(text);
}

let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 250);
}

document.getElementById("filter").addEventListener("input", applyFilter);
live.on("event", refreshSoon);
live.on("ready", refreshSoon); // the events that came before the feed was up
live.on("circusd", refreshStatus);
live.on("connected", () => {
  refresh().then(loadHistory);
  refreshStatus();
});
live.on("stats", (msg) => {
  if (msg.pid !== null && msg.pid !== undefined) return;
  const row = rows.get(msg.watcher);
  if (!row) return;
  row.chart.push(msg.time, [msg.cpu, msg.mem]);
  setText(row.cpu, percent(msg.cpu));
  setText(row.mem, percent(msg.mem));
});
live.subscribe({ stats: true, stats_watcher: "*", output: null }); // the sums are enough
live.start();
// The list first (what the page is for), then the cards and the charts' history. The first
// load is retried until it works: the live feed's "connected" only follows a disconnection it
// saw, and circushttpd's link may be back before this page's feed says hello.
retrying(load, report).then(() => {
  refreshStatus();
  loadHistory();
});
// circusd's figures every 10 s while the page shows (at once when it shows again: a hidden
// page asks nothing), and the charts' time window slides every 5 s where no point came.
setInterval(() => document.hidden || refreshStatus(), 10000);
document.addEventListener("visibilitychange", () => document.hidden || refreshStatus());
setInterval(() => rows.forEach((row) => row.chart.slide(4500)), 5000);
