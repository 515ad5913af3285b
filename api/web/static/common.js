// Shared by both pages: copy-to-clipboard buttons (data-copy="#selector"), and forms that
// ask before they are sent (data-confirm="question").
"use strict";
window.codedrop = window.codedrop || {};
codedrop.copy = async function (text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    // clipboard API refused (http origin, old browser): select a temporary field instead
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
    area.remove();
    return ok;
  }
};
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = ("value" in source && source.tagName !== "OUTPUT") ? source.value : source.textContent.trim();
  const ok = await codedrop.copy(text);
  const label = button.textContent;
  const said = button.dataset;  // the claim page passes its language's words
  button.textContent = ok ? (said.copied || "Copied") : (said.copyFailed || "Press Ctrl+C");
  const status = document.getElementById("copy-status");
  if (status) {
    status.textContent = ok
      ? (said.copiedStatus || "Copied to the clipboard.")
      : (said.copyFailedStatus || "Select the code and copy it.");
  }
  setTimeout(() => { button.textContent = label; }, 1600);
});
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
