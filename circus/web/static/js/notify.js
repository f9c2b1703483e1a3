// The page-wide banner (disconnected) and short notices (results of actions).

/** Show `text` (and a smaller `detail`) in the disconnected banner, or hide it with null. */
export function showBanner(text, detail = "") {
  const banner = document.getElementById("banner");
  if (!banner) return;
  document.body.classList.toggle("disconnected", Boolean(text));
  if (text) {
    banner.querySelector(".banner-text").textContent = text;
    banner.querySelector(".banner-detail").textContent = detail || "";
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

/** A notice at the top of the page that fades after a few seconds. */
export function notify(text, kind = "info") {
  const area = document.getElementById("notices");
  if (!area) return;
  const notice = document.createElement("div");
  notice.className = `notice notice-${kind}`;
  notice.setAttribute("role", kind === "error" ? "alert" : "status");
  notice.textContent = text;
  area.appendChild(notice);
  setTimeout(() => notice.remove(), kind === "error" ? 8000 : 3000);
}

/** Run an API call for a button: disabled while it runs, errors shown as notices. */
export async function withButton(button, call, done) {
  button.disabled = true;
  try {
    const result = await call();
    if (done) done(result);
    return result;
  } catch (exc) {
    notify(exc.message, "error");
    return null;
  } finally {
    button.disabled = false;
  }
}
