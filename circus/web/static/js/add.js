// The "add watcher" form: checks what it can in the browser, sends POST /api/watchers and
// shows each error next to the field it names.

import { api } from "./api.js";
import { notify } from "./notify.js";
import { watcherUrl } from "./watchers.js";

const form = document.getElementById("add-form");
// The server's rule (circus/web/validate.py WATCHER_NAME), checked here to answer at once.
const NAME_RULE = /^[A-Za-z0-9_.@:+-]{1,128}$/;

function fieldBox(name) {
  return (
    form.querySelector(`.field[data-field="${name}"]`) ||
    (name.startsWith("options.") ? form.querySelector('.field[data-field="options"]') : null)
  );
}

function clearErrors() {
  for (const box of form.querySelectorAll(".field")) {
    box.classList.remove("invalid");
    const error = box.querySelector(".error");
    if (error) error.textContent = "";
    const input = box.querySelector("input, select, textarea");
    if (input) input.removeAttribute("aria-invalid");
  }
  document.getElementById("form-error").textContent = "";
}

/** Show `message` next to `field` (or above the buttons when no field matches). */
function showError(field, message) {
  const box = field ? fieldBox(field) : null;
  if (!box) {
    document.getElementById("form-error").textContent = message;
    return;
  }
  box.classList.add("invalid");
  box.querySelector(".error").textContent = message;
  const input = box.querySelector("input, select, textarea");
  if (input) input.setAttribute("aria-invalid", "true");
}

/** The "key = value" lines of the free-form options, or throws [field, message]. */
function parseOptions(text) {
  const options = {};
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) return;
    const eq = line.indexOf("=");
    if (eq <= 0) throw ["options", `line ${index + 1}: expected "key = value", got "${line}"`];
    options[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return options;
}

function collect() {
  const errors = [];
  const name = form.name.value.trim();
  const cmd = form.cmd.value.trim();
  if (!name) errors.push(["name", "a name is required"]);
  else if (!NAME_RULE.test(name)) errors.push(["name", "use letters, digits and . _ @ : + - (at most 128, no spaces)"]);
  if (!cmd) errors.push(["cmd", "a command is required"]);
  let options = {};
  try {
    options = parseOptions(form.options.value);
  } catch (problem) {
    errors.push(problem);
  }
  const num = form.numprocesses.value.trim();
  if (num !== "") {
    const value = Number(num);
    if (!Number.isInteger(value) || value < 0 || value > 1000) {
      errors.push(["options.numprocesses", "a whole number from 0 to 1000"]);
    } else {
      options.numprocesses = value;
    }
  }
  const graceful = form.graceful_timeout.value.trim();
  if (graceful !== "") {
    const value = Number(graceful);
    if (!Number.isFinite(value) || value < 0) errors.push(["options.graceful_timeout", "seconds, 0 or more"]);
    else options.graceful_timeout = value;
  }
  if (form.working_dir.value.trim()) options.working_dir = form.working_dir.value.trim();
  if (form.use_papa.value) options.use_papa = form.use_papa.value === "true";
  return { errors, body: { name, cmd, options, start: form.start.checked } };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const { errors, body } = collect();
  if (errors.length) {
    for (const [field, message] of errors) showError(field, message);
    fieldBox(errors[0][0])?.querySelector("input, select, textarea")?.focus();
    return;
  }
  const button = document.getElementById("add-submit");
  button.disabled = true;
  try {
    await api.post("/api/watchers", body);
    notify(`watcher ${body.name} added`, "ok");
    window.location.assign(watcherUrl(body.name));
  } catch (exc) {
    showError(exc.field, exc.message);
    if (exc.field) fieldBox(exc.field)?.querySelector("input, select, textarea")?.focus();
  } finally {
    button.disabled = false;
  }
});
