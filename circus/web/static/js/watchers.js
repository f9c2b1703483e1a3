// What the watcher pages share: actions on a watcher, labels, URLs.

import { api } from "./api.js";
import { notify, withButton } from "./notify.js";

const LABELS = {
  active: "active",
  stopped: "stopped",
  starting: "starting…",
  stopping: "stopping…",
  recovering: "recovering…",
};

/** The label of a watcher status on its toggle. */
export function statusLabel(status) {
  return LABELS[status] || status;
}

/** The reasons of circusd's `hook_failed` detail (`{hook: {reason, ...}}`), one per hook. */
export function hookFailures(detail) {
  return Object.values(detail || {}).map((entry) => String((entry && entry.reason) || entry));
}

/** The page of a watcher. */
export function watcherUrl(name) {
  return `/watchers/${encodeURIComponent(name)}`;
}

const DONE = {
  start: "started",
  stop: "stopped",
  restart: "restarted",
  reload: "reloaded",
  incr: "one process more",
  decr: "one process less",
  numprocesses: "number of processes set",
  kill: "killed",
  signal: "signal sent",
  remove: "removed",
};

/** Runs watcher actions from buttons, then calls `refresh` to show the result. */
export class ActionQueue {
  constructor(refresh) {
    this.refresh = refresh;
  }

  async run(button, name, action, body = {}) {
    if (name === "circushttpd" && (action === "stop" || action === "restart")) {
      // the watcher that runs this very console (httpd = true)
      if (!window.confirm(`${action} circushttpd? This console goes away with it.`)) return null;
    }
    const result = await withButton(button, () => api.action(name, action, body));
    if (result) {
      let text = `${name}: ${DONE[action] || action}`;
      if (result.numprocesses !== undefined) text += ` (${result.numprocesses} wanted)`;
      notify(text, "ok");
      await this.refresh();
    }
    return result;
  }
}
