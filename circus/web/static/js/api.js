// The JSON API under /api/ (docs/dev/web-api.md), with the CSRF token of the page.

/** An error reply of the API: `code`, `message` and, for a bad field, `field`. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http";
    this.field = error.field || null;
  }
}

/** A request circushttpd has not answered by then fails (code `timeout`) instead of leaving the
 * page waiting: its own calls to circusd give up after 5 s, a few in a row at most. */
export const REQUEST_TIMEOUT_MS = 20000;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10000;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["X-XSRFToken"] = csrfToken();
    init.body = JSON.stringify(body);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  init.signal = controller.signal;
  let response;
  let data = null;
  try {
    response = await fetch(path, init);
    data = await response.json().catch((exc) => {
      if (exc instanceof SyntaxError) return null; // not JSON: the status says enough
      throw exc; // the body never came (time-out, network)
    });
  } catch (exc) {
    if (controller.signal.aborted) {
      const message = `the web console did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
      throw new ApiError(0, { error: { code: "timeout", message } });
    }
    throw new ApiError(0, { error: { code: "network", message: "the web console is unreachable" } });
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 401 && data && data.error && data.error.code === "login_required") {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Run `load` (async, throws on failure) until it succeeds, 0.25 s after a failure, then
 * 0.5 s, 1 s, 2 s, 4 s, up to 10 s: a page's first load must not leave it empty for good
 * because one request failed (circusd away, a network change, a time-out). `report(exc)` is told of each failure; an
 * API refusal (4xx: no such watcher, logged out) is final. Resolves to `load`'s result, or
 * undefined after a refusal. */
export async function retrying(load, report) {
  let delay = FIRST_RETRY_MS;
  for (;;) {
    try {
      return await load();
    } catch (exc) {
      report(exc);
      if (exc.status >= 400 && exc.status < 500) return undefined;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}

/** `load` (async) made to run one at a time: a call while it runs makes it run once more
 * after (however many calls came meanwhile). Two loads of the same view never overlap, so an
 * older answer is never shown after a newer one (on a loaded machine the answer of a refresh
 * asked before an action could come after the one asked after it, and stay shown). Resolves
 * (or rejects) with the run that started at or after the call. */
export function inOrder(load) {
  let running = null;
  let queued = null;
  const run = () => {
    if (!running) {
      running = load().finally(() => {
        running = null;
      });
      return running;
    }
    if (!queued) {
      queued = running
        .catch(() => {})
        .then(() => {
          queued = null;
          return run();
        });
    }
    return queued;
  };
  return run;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  /** POST /api/watchers/NAME/ACTION */
  action: (name, action, body = {}) =>
    request("POST", `/api/watchers/${encodeURIComponent(name)}/${action}`, body),
};
