// The WebSocket /ws: events, stats and output pushed by circushttpd, and the
// "disconnected, retrying" banner.
//
// The socket reconnects by itself (back-off 1 s to 10 s). The banner shows while the web
// console or circusd is unreachable; when both are back, "connected" listeners run so each
// page reloads what it shows.

import { showBanner } from "./notify.js";

const MIN_DELAY = 1000;
const MAX_DELAY = 10000;

export class Live {
  constructor() {
    this.listeners = new Map();
    this.subscription = { stats: false, stats_watcher: null, output: null };
    this.delay = MIN_DELAY;
    this.socket = null;
    this.circusdUp = null; // unknown until the first hello
    this.serverUp = true;
  }

  /** Listen to a message type (`event`, `stats`, `output`, ...), `connected` (back after a
   * disconnection) or `ready` (the feed's first hello). */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
    return this;
  }

  emit(type, message) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(message);
      } catch (exc) {
        console.error(`live: ${type} listener failed`, exc);
      }
    }
  }

  /** Choose the optional feeds; kept across reconnections. */
  subscribe(subscription) {
    Object.assign(this.subscription, subscription);
    this.send({ type: "subscribe", ...this.subscription });
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  start() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}/ws`);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.delay = MIN_DELAY;
      this.send({ type: "subscribe", ...this.subscription });
    });
    socket.addEventListener("message", (msg) => this.receive(msg.data));
    socket.addEventListener("close", () => (opened ? this.closed() : this.refused()));
  }

  /** The upgrade failed: the server is down, or it is up and our session is gone (it
   * restarted, or the session expired): then log in again, and come back here. */
  async refused() {
    try {
      const response = await fetch("/api/session", { credentials: "same-origin" });
      const session = await response.json();
      if (response.ok && !session.user) {
        window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
    } catch (exc) {
      // the server is not answering: retry below
    }
    this.closed();
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (exc) {
      return;
    }
    this.dispatch(message);
  }

  /** One message; a `batch` frame carries several, handled in order. */
  dispatch(message) {
    if (message.type === "batch") {
      for (const one of message.messages || []) this.dispatch(one);
      return;
    }
    if (message.type === "hello" || message.type === "circusd") {
      this.setState(true, Boolean(message.connected), message.error);
    }
    this.emit(message.type, message);
  }

  closed() {
    this.socket = null;
    this.setState(false, this.circusdUp, null);
    setTimeout(() => this.start(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY);
  }

  setState(serverUp, circusdUp, error) {
    const wasUp = this.serverUp && this.circusdUp;
    this.serverUp = serverUp;
    this.circusdUp = circusdUp;
    if (!serverUp) {
      showBanner("The web console is unreachable: disconnected, retrying…");
    } else if (!circusdUp) {
      showBanner("circusd is disconnected, retrying…", error);
    } else {
      showBanner(null);
      if (wasUp === false) this.emit("connected", {});
      // the first hello: what changed between the page's first load and this moment (a
      // watcher's processes spawned meanwhile) came as events before the feed was up
      else if (wasUp === null) this.emit("ready", {});
    }
  }
}

/** The page's one Live connection. */
export const live = new Live();
