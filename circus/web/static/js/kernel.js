// The kernel's view: what papa-kernel holds (survives a circusd restart).

import { api, inOrder, retrying } from "./api.js";
import { clock, h } from "./format.js";
import { live } from "./live.js";
import { notify } from "./notify.js";
import { watcherUrl } from "./watchers.js";

function placeholder(table, colspan, text) {
  table.tBodies[0].replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan }, text)));
}

function processRow(p) {
  const state = p.running ? "running" : p.exit_code !== null && p.exit_code !== undefined ? `exited ${p.exit_code}` : "exited";
  return h(
    "tr",
    { dataset: { pid: String(p.pid) } },
    h("td", { class: "mono" }, p.name),
    h("td", {}, p.watcher ? h("a", { href: watcherUrl(p.watcher) }, p.watcher) : "–"),
    h("td", { class: "num" }, String(p.pid)),
    h("td", { class: p.running ? "pstatus pstatus-running" : "pstatus pstatus-exited" }, state),
    h("td", { class: "num" }, clock(p.started)),
    h("td", { class: "mono cmd", title: p.args || "" }, p.args || ""),
  );
}

function socketRow(s) {
  const address = s.path || (s.host !== undefined ? `${s.host}:${s.port}` : "–");
  const rest = Object.entries(s)
    .filter(([key]) => !["name", "family", "host", "port", "path"].includes(key))
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
  return h("tr", {}, h("td", { class: "mono" }, s.name), h("td", {}, s.family || "–"), h("td", { class: "mono" }, address), h("td", { class: "mono muted" }, rest));
}

function show(reply) {
  const procs = document.getElementById("kernel-processes");
  const socks = document.getElementById("kernel-sockets");
  const unavailable = document.getElementById("kernel-unavailable");
  document.getElementById("kernel-endpoint").textContent = reply.endpoint || "";
  unavailable.hidden = Boolean(reply.available);
  if (!reply.available) {
    unavailable.textContent = `No kernel: ${reply.reason || "circusd runs no papa-kernel"}`;
    placeholder(procs, "6", "–");
    placeholder(socks, "4", "–");
    return;
  }
  const processes = reply.processes || [];
  const sockets = reply.sockets || [];
  document.getElementById("kernel-proc-count").textContent = `${processes.length}`;
  document.getElementById("kernel-sock-count").textContent = `${sockets.length}`;
  if (processes.length) procs.tBodies[0].replaceChildren(...processes.map(processRow));
  else placeholder(procs, "6", "The kernel holds no process.");
  if (sockets.length) socks.tBodies[0].replaceChildren(...sockets.map(socketRow));
  else placeholder(socks, "4", "The kernel holds no socket.");
}

// one at a time: an older answer never replaces a newer one (api.js inOrder)
const load = inOrder(async () => {
  show(await api.get("/api/kernel"));
  document.body.dataset.ready = "true";
});

function report(exc) {
  if (exc.code !== "disconnected") notify(`kernel: ${exc.message}`, "error"); // else the banner
}

async function refresh() {
  try {
    await load();
  } catch (exc) {
    report(exc);
  }
}

let timer = null;
function refreshSoon() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    refresh();
  }, 500);
}

document.getElementById("kernel-refresh").addEventListener("click", refresh);
live.on("event", refreshSoon);
live.on("connected", refresh);
live.start();
retrying(load, report); // until it works (see home.js)
