// The Circusds page: the circusd this console is on, and those that answered discovery.

import { api } from "./api.js";
import { clock, h } from "./format.js";
import { notify } from "./notify.js";

function protection(c) {
  if (c.curve === null || c.curve === undefined) return "original circusd (not announced)";
  return c.curve ? "CURVE" : "no CURVE (loopback)";
}

function row(c, current) {
  const here = c.endpoint === current;
  return h(
    "tr",
    here ? { class: "current" } : {},
    h("td", { class: "mono" }, c.endpoint + (here ? " (this console)" : "")),
    h("td", {}, protection(c)),
    h("td", { class: "mono" }, c.sender),
    h("td", { class: "mono muted" }, c.curve_public_key || "–"),
    h("td", { class: "num" }, clock(c.last_seen)),
  );
}

function placeholder(table, text) {
  table.tBodies[0].replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "5" }, text)));
}

function show(reply) {
  const table = document.getElementById("discovery-table");
  document.getElementById("discovery-current").textContent = reply.current || "";
  document.getElementById("discovery-off").hidden = Boolean(reply.enabled);
  document.getElementById("discovery-probe").hidden = !reply.enabled;
  const error = document.getElementById("discovery-error");
  error.hidden = !reply.error;
  error.textContent = reply.error ? `The last probe failed: ${reply.error}` : "";
  if (!reply.enabled) {
    placeholder(table, "–");
    return;
  }
  const found = reply.circusds || [];
  document.getElementById("discovery-count").textContent = `${found.length}`;
  document.getElementById("discovery-when").textContent = reply.probed_at ? `probed at ${clock(reply.probed_at)}` : "probing…";
  if (found.length) table.tBodies[0].replaceChildren(...found.map((c) => row(c, reply.current)));
  else placeholder(table, reply.probed_at ? "No circusd answered." : "Probing…");
}

async function refresh() {
  try {
    show(await api.get("/api/discovery"));
  } catch (exc) {
    notify(`discovery: ${exc.message}`, "error");
  } finally {
    document.body.dataset.ready = "true";
  }
}

async function probe() {
  const button = document.getElementById("discovery-probe");
  button.disabled = true;
  try {
    show(await api.post("/api/discovery"));
  } catch (exc) {
    notify(`discovery: ${exc.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

document.getElementById("discovery-probe").addEventListener("click", probe);
setInterval(refresh, 10000);
refresh();
