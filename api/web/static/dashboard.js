// The campaign page: live stats over Server-Sent Events, and uploads with a progress bar.
"use strict";
(function () {
  const live = document.getElementById("live");
  const SVG = "http://www.w3.org/2000/svg";
  const fmt = new Intl.NumberFormat("en-US");

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setStat(name, value) {
    document.querySelectorAll('[data-stat="' + name + '"]').forEach((node) => {
      const text = fmt.format(value);
      if (node.textContent !== text) {
        node.textContent = text;
        node.classList.remove("flash");
        void node.offsetWidth;  // restart the animation
        node.classList.add("flash");
      }
    });
  }

  function drawChart(points) {
    const chart = document.getElementById("chart");
    chart.replaceChildren();
    const max = Math.max(1, ...points.map((p) => p.n));
    const w = 300 / points.length;
    points.forEach((p, i) => {
      const h = (p.n / max) * 100;
      const bar = el("rect", { x: (i * w + 1).toFixed(2), y: (104 - h).toFixed(2), width: (w - 2).toFixed(2), height: h.toFixed(2) });
      bar.appendChild(el("title", {}, p.t + ": " + p.n + " claim" + (p.n === 1 ? "" : "s")));
      chart.appendChild(bar);
    });
    chart.appendChild(el("text", { x: 0, y: 118 }, points[0].t));
    chart.appendChild(el("text", { x: 300, y: 118, "text-anchor": "end" }, points[points.length - 1].t));
    chart.appendChild(el("text", { x: 0, y: 10 }, "max " + max + "/min"));
    const total = points.reduce((a, p) => a + p.n, 0);
    document.getElementById("chart-desc").textContent = total + " claims in the last 30 minutes, at most " + max + " in one minute.";
  }

  function drawBars(id, counts, labels) {
    const box = document.getElementById(id);
    box.replaceChildren();
    const entries = Object.entries(counts);
    if (!entries.length) { box.textContent = "No claims yet."; box.className = "muted small"; return; }
    box.className = "";
    const max = Math.max(1, ...entries.map(([, n]) => n));
    for (const [key, n] of entries) {
      const row = document.createElement("div");
      row.className = "hbar";
      row.dataset.key = key;
      const name = document.createElement("span");
      name.textContent = (labels && labels[key]) || key;
      const svg = el("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" });
      svg.appendChild(el("rect", { x: 0, y: 0, height: 10, width: ((n / max) * 100).toFixed(2) }));
      const value = document.createElement("span");
      value.className = "num";
      value.dataset.count = key;
      value.textContent = fmt.format(n);
      row.append(name, svg, value);
      box.appendChild(row);
    }
  }

  function drawStock(s) {
    const total = s.total || 0;
    const a = total ? (s.available / total) * 100 : 0;
    const c = total ? (s.claimed / total) * 100 : 0;
    const bar = document.querySelector("#stockbar svg");
    if (!bar) return;
    const [ra, rc, ru] = bar.querySelectorAll("rect");
    ra.setAttribute("width", a.toFixed(2));
    rc.setAttribute("x", a.toFixed(2)); rc.setAttribute("width", c.toFixed(2));
    ru.setAttribute("x", (a + c).toFixed(2)); ru.setAttribute("width", total ? (100 - a - c).toFixed(2) : "0");
    bar.setAttribute("aria-label", fmt.format(s.available) + " available, " + fmt.format(s.claimed) + " claimed, " + fmt.format(s.used) + " used of " + fmt.format(total));
  }

  function render(s) {
    for (const k of ["available", "claimed", "used", "total", "last_24h"]) setStat(k, s[k]);
    drawStock(s);
    drawChart(s.per_minute);
    drawBars("by-channel", s.by_channel, { telegram: "Telegram", discord: "Discord", web: "Web", api: "API" });
    drawBars("by-platform", s.by_platform, { ios: "iOS", android: "Android", steam: "Steam", web: "Web", universal: "Any", any: "Any" });
    const status = document.querySelector('[data-testid="status"]');
    if (status && status.dataset.raw && status.dataset.raw !== s.status) window.location.reload();
    if (status) status.dataset.raw = s.status;
  }

  function setState(state, text) {
    const badge = document.getElementById("live-state");
    badge.dataset.state = state;
    document.getElementById("live-text").textContent = text;
  }

  if (live && "EventSource" in window) {
    const source = new EventSource(live.dataset.liveUrl);
    source.addEventListener("open", () => setState("live", "Live"));
    source.addEventListener("stats", (event) => {
      setState("live", "Live · updated " + new Date().toLocaleTimeString());
      render(JSON.parse(event.data));
    });
    source.addEventListener("error", () => setState("connecting", "Reconnecting…"));
    window.addEventListener("pagehide", () => source.close());
  } else if (live) {
    setState("connecting", "Live updates need a newer browser; reload for fresh numbers.");
  }

  // Uploads: XMLHttpRequest because fetch cannot report upload progress.
  const form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const file = document.getElementById("file");
      const result = document.getElementById("upload-result");
      if (!file.files.length) { result.className = "alert bad"; result.textContent = "Choose a file first."; file.focus(); return; }
      const progress = document.getElementById("upload-progress");
      const bar = document.getElementById("upload-bar");
      const label = document.getElementById("upload-label");
      const button = document.getElementById("upload-button");
      progress.hidden = false; bar.value = 0; label.textContent = "Uploading… 0%";
      result.className = ""; result.textContent = "";
      button.disabled = true;
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf_token.value);
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        const pct = Math.round((e.loaded / e.total) * 100);
        bar.value = pct;
        label.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Importing codes…";
        if (pct >= 100) bar.removeAttribute("value");  // indeterminate while the server imports
      });
      xhr.addEventListener("load", () => {
        button.disabled = false;
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
        if (xhr.status === 201 && data.report_url) {
          bar.value = 100;
          label.textContent = "Done";
          result.className = "alert ok";
          result.textContent = fmt.format(data.imported) + " imported, " + fmt.format(data.duplicates) + " duplicates, " + fmt.format(data.invalid) + " invalid. Opening the report…";
          window.location.assign(data.report_url);
        } else {
          progress.hidden = true;
          result.className = "alert bad";
          result.textContent = data.detail || ("Upload failed (HTTP " + xhr.status + ").");
        }
      });
      xhr.addEventListener("error", () => {
        button.disabled = false; progress.hidden = true;
        result.className = "alert bad"; result.textContent = "The upload was interrupted. Check your connection and try again.";
      });
      xhr.send(new FormData(form));
    });
  }
})();
