// Display helpers shared by the pages.

/** "0.4%" for a number, "–" for null/undefined. */
export function percent(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  return `${Number(value).toFixed(1)}%`;
}

/** A duration in seconds as "45s", "12m 3s", "5h 2m", "3d 4h". */
export function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  let s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${s}s`;
}

/** A wall-clock time (seconds since the epoch) as HH:MM:SS. */
export function clock(t) {
  if (!t) return "–";
  return new Date(t * 1000).toLocaleTimeString([], { hour12: false });
}

/** Set an element's text only when it changes (a change costs the page a layout and a paint). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Create an element with attributes, classes and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
