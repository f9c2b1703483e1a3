// Loaded by every page before its module script (a classic script: it runs even when the
// modules do not load). When the page's module script, or a module it imports, fails to
// load (the network changed mid-load, circushttpd was restarting), the page would stay empty:
// instead the banner says which script failed and offers "Retry now", and the page reloads by
// itself as soon as that script can be fetched again (asked after 0.25 s, then 0.5 s, 1 s,
// 2 s, 4 s, up to 10 s; a reload before that would only show the browser's own error page).
(function () {
  "use strict";
  const FIRST_DELAY_MS = 250;
  const MAX_DELAY_MS = 10000;
  let failed = null;

  function show(name) {
    const banner = document.getElementById("banner");
    if (!banner) return;
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry small";
    retry.textContent = "Retry now";
    retry.addEventListener("click", () => window.location.reload());
    banner.querySelector(".banner-text").textContent =
      `This page could not load its script (${name}): retrying…`;
    banner.querySelector(".banner-detail").replaceChildren(retry);
    banner.hidden = false;
    document.body.classList.add("disconnected");
  }

  async function reloadWhenReachable(url, delay) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) {
        window.location.reload();
        return;
      }
    } catch (exc) {
      // still unreachable: ask again later
    }
    reloadWhenReachable(url, Math.min(delay * 2, MAX_DELAY_MS));
  }

  window.addEventListener(
    "error",
    (event) => {
      const script = event.target;
      if (failed || !(script instanceof HTMLScriptElement) || script.type !== "module") return;
      failed = script.src;
      show(new URL(failed).pathname.split("/").pop());
      reloadWhenReachable(failed, FIRST_DELAY_MS);
    },
    true, // a script's load error does not bubble: caught on its way down
  );
})();
