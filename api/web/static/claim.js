// The claim page: claim without a reload, show and copy the code, count down to the start.
// Its sentences come translated in data-* attributes of the form (no inline script: CSP).
"use strict";
(function () {
  const form = document.getElementById("claim-form");
  const select = document.getElementById("platform");
  // iPadOS reports a desktop Safari user agent; touch support gives it away
  if (select && select.dataset.detected === "web" && /Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1) {
    const ios = select.querySelector('option[value="ios"]');
    if (ios) select.value = "ios";
  }

  function showError(message) {
    let box = document.querySelector('[data-testid="error"]');
    if (!box) {
      box = document.createElement("div");
      box.className = "alert bad";
      box.setAttribute("role", "alert");
      box.dataset.testid = "error";
      document.getElementById("result").before(box);
    }
    box.textContent = message;
  }

  function showHint(hint) {
    const box = document.getElementById("hint");
    box.replaceChildren();
    const at = hint.indexOf("https://");
    if (at < 0) { box.textContent = hint; return; }
    box.append(hint.slice(0, at));
    const link = document.createElement("a");
    link.href = hint.slice(at);
    link.textContent = hint.slice(at);
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    box.append(link);
  }

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = document.getElementById("claim-button");
      button.disabled = true;
      const label = button.textContent;
      button.textContent = form.dataset.busy || "Getting your code…";
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
          headers: { "Accept": "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
          showError(data.detail || form.dataset.failed || "Something went wrong. Try again in a moment.");
          if (["sold_out", "campaign_ended", "campaign_not_active", "campaign_not_started"].includes(data.code)) {
            setTimeout(() => window.location.reload(), 2500);
          }
          button.disabled = false;
          button.textContent = label;
          return;
        }
        document.getElementById("code").textContent = data.code;
        showHint(data.hint || "");
        document.getElementById("claim-area").remove();
        const result = document.getElementById("result");
        result.hidden = false;
        document.getElementById("copy").focus();
      } catch (e) {
        showError(form.dataset.offline || "The connection failed. Check your network and try again.");
        button.disabled = false;
        button.textContent = label;
      }
    });
  }

  // before the start: count down on the server's clock (the page carries its time, so a
  // skewed device still opens on the second), then enable the claim button without a reload
  const countdown = document.getElementById("countdown");
  if (countdown) {
    const starts = Date.parse(countdown.dataset.starts);
    const skew = countdown.dataset.now ? Date.parse(countdown.dataset.now) - Date.now() : 0;
    const button = document.getElementById("claim-button");
    const pad = (n) => String(n).padStart(2, "0");
    const tick = () => {
      const left = Math.max(0, Math.ceil((starts - (Date.now() + skew)) / 1000));
      const d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
      const m = Math.floor(left % 3600 / 60), s = left % 60;
      countdown.textContent = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
      if (left > 0) return;
      clearInterval(timer);
      const notice = document.getElementById("not-started");
      if (notice) notice.remove();
      if (button) { button.disabled = false; button.focus(); }
    };
    const timer = setInterval(tick, 250);
    tick();
  }
})();
