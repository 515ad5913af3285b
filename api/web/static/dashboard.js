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
    // bars stand on a baseline at y=100 and reach y=16 at most: clear of the "max" label
    // above them and of the time labels below
    chart.appendChild(el("line", { class: "axis", x1: 0, y1: 100.5, x2: 300, y2: 100.5 }));
    points.forEach((p, i) => {
      const h = (p.n / max) * 84;
      const bar = el("rect", { x: (i * w + 1).toFixed(2), y: (100 - h).toFixed(2), width: (w - 2).toFixed(2), height: h.toFixed(2) });
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
    drawBars("by-channel", s.by_channel, { telegram: "Telegram", discord: "Discord", web: "Web", api: "API", api_anonymous: "API (anonymous)" });
    drawBars("by-platform", s.by_platform, { ios: "iOS", android: "Android", steam: "Steam", web: "Web", universal: "Any", any: "Any" });
    const status = document.querySelector('[data-testid="status"]');
    if (status && status.dataset.raw && status.dataset.raw !== s.state) window.location.reload();
    if (status) status.dataset.raw = s.state;
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
      const s = JSON.parse(event.data);
      // when the snapshot was taken, on the chart's clock: 24-hour, UTC
      const at = new Date(s.at).toLocaleTimeString("en-GB", { hour12: false, timeZone: "UTC" });
      setState("live", "Live · updated " + at + " UTC");
      render(s);
    });
    source.addEventListener("error", () => setState("connecting", "Reconnecting…"));
    window.addEventListener("pagehide", () => source.close());
  } else if (live) {
    setState("connecting", "Live updates need a newer browser; reload for fresh numbers.");
  }

  // Uploads. A file up to the in-request limit is posted with the form and imported at once;
  // a larger one goes through the background flow: start → PUT the file to the URL we get
  // (presigned S3, or our own signed URL) → complete → poll the import's progress → report.
  // XMLHttpRequest for the file itself, because fetch cannot report upload progress.
  const form = document.getElementById("upload-form");
  if (form) {
    const file = document.getElementById("file");
    const result = document.getElementById("upload-result");
    const progress = document.getElementById("upload-progress");
    const bar = document.getElementById("upload-bar");
    const label = document.getElementById("upload-label");
    const detail = document.getElementById("upload-detail");
    const button = document.getElementById("upload-button");
    const csrf = form.elements.csrf_token.value;
    const maxBytes = Number(form.dataset.maxBytes);
    const largeMaxBytes = Number(form.dataset.largeMaxBytes);
    let sending = false;  // the file is on its way: leaving the page would abort it

    function size(n) {
      const units = [["GB", 1 << 30], ["MB", 1 << 20], ["KB", 1 << 10]];
      for (const [unit, step] of units) {
        if (n >= step) return (n / step).toFixed(1).replace(/\.0$/, "") + " " + unit;
      }
      return fmt.format(n) + " bytes";
    }

    function setBar(pct) {
      if (pct === null || pct === undefined) bar.removeAttribute("value");  // indeterminate
      else bar.value = pct;
    }

    function say(kind, text) {
      result.className = kind ? "alert " + kind : "";
      result.textContent = text;
    }

    function fail(text) {
      sending = false;
      button.disabled = false;
      progress.hidden = true;
      say("bad", text);
    }

    function finish(data) {
      setBar(100);
      label.textContent = "Done";
      const rows = data.rows !== undefined ? data.rows : data.rows_done;
      if (rows !== undefined) detail.textContent = fmt.format(rows) + " rows read";
      say("ok", fmt.format(data.imported) + " imported, " + fmt.format(data.duplicates) + " duplicates, " + fmt.format(data.invalid) + " invalid. Opening the report…");
      window.location.assign(data.report_url);
    }

    // One request through XMLHttpRequest: resolves with the status and the JSON answer.
    function send(method, url, body, headers, onProgress) {
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open(method, url);
        for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
        if (onProgress) {
          xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
        }
        xhr.addEventListener("load", () => {
          let data = {};
          try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
          resolve({ status: xhr.status, data: data });
        });
        xhr.addEventListener("error", () => reject(new Error("The upload was interrupted. Check your connection and try again.")));
        xhr.addEventListener("abort", () => reject(new Error("The upload was cancelled.")));
        xhr.send(body);
      });
    }

    function showUpload(loaded, total) {
      const pct = Math.round((loaded / total) * 100);
      setBar(pct);
      label.textContent = "Uploading… " + pct + "%";
      detail.textContent = size(loaded) + " of " + size(total) + " sent";
    }

    async function uploadNow(chosen) {
      const r = await send("POST", form.action, new FormData(form), { "Accept": "application/json", "X-CSRF-Token": csrf }, (loaded, total) => {
        showUpload(loaded, total);
        if (loaded >= total) { label.textContent = "Importing codes…"; setBar(null); }
      });
      if (r.status === 201 && r.data.report_url) return finish(r.data);
      fail(r.data.detail || ("Upload failed (HTTP " + r.status + ")."));
    }

    function showImport(data) {
      if (data.status === "processing") {
        setBar(data.percent);
        label.textContent = "Importing in the background… " + (data.percent === null ? "" : Math.floor(data.percent) + "%");
        let text = fmt.format(data.rows_done) + (data.rows_total ? " of " + fmt.format(data.rows_total) : "") + " lines read";
        text += " · " + fmt.format(data.imported) + " imported, " + fmt.format(data.duplicates) + " duplicates, " + fmt.format(data.invalid) + " invalid";
        detail.textContent = text;
      } else if (data.status === "uploaded") {
        setBar(null);
        label.textContent = "Queued for import…";
      }
    }

    async function api(method, url, body) {
      const r = await fetch(url, {
        method: method,
        headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
      let data = {};
      try { data = await r.json(); } catch (e) { data = {}; }
      if (!r.ok) throw new Error(data.detail || ("The server answered HTTP " + r.status + "."));
      return data;
    }

    async function follow(url) {
      let misses = 0;
      for (;;) {
        let data;
        try {
          data = await api("GET", url);
          misses = 0;
        } catch (e) {
          // a dropped poll is no reason to give up: the import goes on on the server
          if (++misses >= 5) throw new Error(e.message + " The import goes on in the background: see Recent uploads after a reload.");
          data = null;
        }
        if (data) {
          showImport(data);
          if (data.finished) return data;
        }
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
    }

    async function uploadInBackground(chosen) {
      label.textContent = "Preparing the upload…";
      const ticket = await api("POST", form.dataset.largeUrl, { filename: chosen.name, size: chosen.size });
      sending = true;
      let put;
      try {
        put = await send(ticket.method, ticket.url, chosen, {}, showUpload);
      } catch (e) {
        const why = ticket.direct_to_storage ? "the connection dropped, or the bucket does not accept uploads from this site (CORS)" : "the connection dropped";
        throw new Error("The file could not be sent: " + why + ". Try again.");
      } finally {
        sending = false;
      }
      if (put.status < 200 || put.status >= 300) {
        throw new Error(put.data.detail || ("The file could not be stored (HTTP " + put.status + "). Try again."));
      }
      label.textContent = "Queued for import…";
      detail.textContent = size(chosen.size) + " uploaded";
      setBar(null);
      say("info", "File uploaded; importing it in the background. You can leave this page: the import carries on.");
      const queued = await api("POST", ticket.complete_url);
      const done = queued.finished ? queued : await follow(ticket.progress_url);
      if (done.status === "expired") throw new Error("This upload expired before its file arrived. Start again.");
      finish(done);
    }

    window.addEventListener("beforeunload", (event) => {
      if (sending) { event.preventDefault(); event.returnValue = ""; }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!file.files.length) { say("bad", "Choose a file first."); file.focus(); return; }
      const chosen = file.files[0];
      if (chosen.size > largeMaxBytes) {
        say("bad", chosen.name + " is " + size(chosen.size) + "; the largest file is " + size(largeMaxBytes) + ". Split it into smaller files.");
        file.focus();
        return;
      }
      progress.hidden = false; setBar(0); label.textContent = "Uploading… 0%"; detail.textContent = "";
      say("", "");
      button.disabled = true;
      try {
        if (chosen.size > maxBytes) await uploadInBackground(chosen);
        else await uploadNow(chosen);
      } catch (e) {
        fail(e.message || "The upload failed.");
      }
    });
  }
})();
