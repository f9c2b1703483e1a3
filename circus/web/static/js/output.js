// The live tail of a watcher's output: the recent chunks from the API, then new ones over
// the WebSocket. The page keeps at most MAX_LINES lines.

import { api, retrying } from "./api.js";
import { clock, h } from "./format.js";
import { live } from "./live.js";

const NAME = document.getElementById("output-panel").dataset.name;
const tail = document.getElementById("tail");
const follow = document.getElementById("follow");
const showStderr = document.getElementById("show-stderr");
const MAX_LINES = 2000;
let next = 0; // the seq after the last chunk shown
let partial = null; // the last line element when its chunk did not end with a newline

function addChunk(chunk) {
  if (chunk.seq !== undefined && chunk.seq !== null) {
    if (chunk.seq < next) return; // already shown (the API and the socket overlap)
    next = chunk.seq + 1;
  }
  const lines = chunk.data.split("\n");
  lines.forEach((text, index) => {
    const last = index === lines.length - 1;
    if (last && text === "") {
      partial = null;
      return;
    }
    if (index === 0 && partial && partial.dataset.pid === String(chunk.pid)) {
      partial.querySelector(".text").textContent += text;
    } else {
      const line = h(
        "span",
        { class: `line ${chunk.stream}`, dataset: { pid: String(chunk.pid) } },
        h("span", { class: "meta" }, `${clock(chunk.time)} ${chunk.pid} `),
        h("span", { class: "text" }, text),
      );
      tail.append(line, "\n");
      partial = line;
    }
    if (!last) partial = null;
  });
  while (tail.childNodes.length > MAX_LINES * 2) {
    tail.firstChild.remove();
  }
  if (follow.checked) tail.scrollTop = tail.scrollHeight;
}

function notice(text, kind = "") {
  tail.append(h("span", { class: `line notice ${kind}`.trim() }, text), "\n");
}

async function fetchOutput() {
  const reply = await api.get(`/api/watchers/${encodeURIComponent(NAME)}/output?since=${next}`);
  if (reply.missed && next) notice("… some output was dropped while away …");
  for (const chunk of reply.chunks) addChunk(chunk);
  next = Math.max(next, reply.next);
  if (!tail.childNodes.length) notice("(no output yet)", "empty");
  document.body.dataset.ready = "true";
}

function report(exc) {
  notice(`could not read the output: ${exc.message}`);
}

async function load() {
  try {
    await fetchOutput();
  } catch (exc) {
    report(exc);
  }
}

showStderr.addEventListener("change", () => tail.classList.toggle("hide-stderr", !showStderr.checked));
document.getElementById("clear").addEventListener("click", () => {
  tail.replaceChildren();
  partial = null;
});
live.on("output", (msg) => {
  if (msg.watcher !== NAME) return;
  tail.querySelector(".line.notice.empty")?.remove(); // an error stays
  addChunk(msg);
});
live.on("connected", load);
live.subscribe({ stats: false, output: NAME });
live.start();
retrying(fetchOutput, report); // until it works (see home.js)
