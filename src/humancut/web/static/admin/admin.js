// humancut console: plain JS, no external resources. Every text from the server (key names
// above all) goes into the page as text (textContent, SVG <title>), never as markup.
"use strict";

(() => {
  const TOKEN = "humancut.adminToken"; // sessionStorage: gone when the tab closes
  const DAYS = 30;
  const COLORS = ["#2456d6", "#e07b00", "#1e7a3c", "#a4161a", "#7b3fb5", "#00838f",
                  "#b5477a", "#5b6470"];
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  let keys = [];
  let usage = [];
  let range = { from: "", to: "" };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch("admin/v1/" + path, {
      method, headers, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON: reported below */ }
    if (!resp.ok) {
      const err = data.error || {};
      throw new ApiError(resp.status, err.code || "http_" + resp.status,
                         err.message || "The server answered " + resp.status + ".");
    }
    return data;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function showError(message) {
    $("error").textContent = message;
    $("error").classList.toggle("hidden", !message);
  }

  async function run(action) {
    showError("");
    try {
      await action();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        sessionStorage.removeItem(TOKEN);
        signedOut("The token was refused: " + err.message);
      } else {
        showError(err.message || String(err));
      }
    }
  }

  // ---- token ---------------------------------------------------------------------------

  function signedOut(message) {
    $("console").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("status").textContent = message || "";
  }

  async function connect() {
    await refresh();
    $("console").classList.remove("hidden");
    $("logout").classList.remove("hidden");
    $("token").value = "";
    $("status").textContent = "Connected.";
  }

  // ---- data ----------------------------------------------------------------------------

  async function refresh() {
    const [k, u] = await Promise.all([api("GET", "keys"), api("GET", "usage")]);
    keys = k.keys;
    usage = u.usage;
    range = { from: u.from, to: u.to };
    renderKeys();
    renderChartChoice();
    renderChart();
  }

  function days() {
    const out = [];
    const day = new Date(range.from + "T00:00:00Z");
    const end = new Date(range.to + "T00:00:00Z");
    while (day <= end) {
      out.push(day.toISOString().slice(0, 10));
      day.setUTCDate(day.getUTCDate() + 1);
    }
    return out;
  }

  function imagesOf(keyId, day) {
    return usage.filter((u) => u.key_id === keyId && (day === undefined || u.day === day))
      .reduce((sum, u) => sum + u.images, 0);
  }

  function videoOf(keyId) {
    const rows = usage.filter((u) => u.key_id === keyId);
    const tasks = rows.reduce((sum, u) => sum + (u.video_tasks || 0), 0);
    const seconds = rows.reduce((sum, u) => sum + (u.video_seconds || 0), 0);
    return tasks ? `${tasks} / ${Math.round(seconds * 10) / 10} s` : "0";
  }

  function label(key) {
    return key.name || key.id;
  }

  // ---- keys table ----------------------------------------------------------------------

  function renderKeys() {
    const body = $("keys").tBodies[0];
    body.replaceChildren();
    $("no-keys").classList.toggle("hidden", keys.length > 0);
    for (const key of keys) {
      const tr = el("tr", null, key.status);
      tr.dataset.keyId = key.id;
      tr.append(el("td", label(key), "name"));
      const id = el("td", null, "id");
      id.append(el("code", key.id));
      tr.append(id);
      const status = el("td");
      status.append(el("span", key.status, "status " + key.status));
      tr.append(status);
      tr.append(el("td", key.credits === null ? "unlimited" : key.credits, "num credits"));
      tr.append(el("td", key.rate_per_minute === null ? "default" : key.rate_per_minute, "num"));
      tr.append(el("td", key.max_in_flight === null ? "default" : key.max_in_flight, "num"));
      tr.append(el("td", imagesOf(key.id, range.to), "num today"));
      tr.append(el("td", imagesOf(key.id), "num month"));
      tr.append(el("td", videoOf(key.id), "num video"));
      tr.append(topUpCell(key));
      tr.append(actionsCell(key));
      body.append(tr);
    }
  }

  function topUpCell(key) {
    const td = el("td");
    if (key.status === "revoked") return td;
    const form = el("form", null, "topup");
    const amount = el("input");
    Object.assign(amount, { type: "number", step: "1", placeholder: "credits", required: true });
    amount.setAttribute("aria-label", "Credits to add to " + label(key));
    const add = el("button", "Add");
    add.type = "submit";
    form.append(amount, add);
    if (key.credits !== null) {
      const unlimited = el("button", "Unlimited", "ghost");
      unlimited.type = "button";
      unlimited.addEventListener("click", () => run(async () => {
        if (!confirm(`Make "${label(key)}" unlimited?`)) return;
        await api("POST", `keys/${encodeURIComponent(key.id)}/credits`, { set: null });
        await refresh();
      }));
      form.append(unlimited);
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(async () => {
        const n = Number(amount.value);
        if (!Number.isInteger(n) || n === 0) throw new Error("Enter a whole number of credits.");
        if (key.credits === null) {
          await api("POST", `keys/${encodeURIComponent(key.id)}/credits`, { set: n });
        } else {
          await api("POST", `keys/${encodeURIComponent(key.id)}/credits`, { add: n });
        }
        await refresh();
      });
    });
    td.append(form);
    return td;
  }

  function actionsCell(key) {
    const td = el("td");
    const box = el("div", null, "actions");
    const change = (text, status, question, className) => {
      const b = el("button", text, className || "ghost");
      b.type = "button";
      b.dataset.action = status;
      b.addEventListener("click", () => run(async () => {
        if (!confirm(question)) return;
        await api("PATCH", `keys/${encodeURIComponent(key.id)}`, { status });
        await refresh();
      }));
      box.append(b);
    };
    if (key.status === "active") {
      change("Disable", "disabled", `Disable "${label(key)}"? Its calls are refused until enabled.`);
    } else if (key.status === "disabled") {
      change("Enable", "active", `Enable "${label(key)}" again?`);
    }
    if (key.status !== "revoked") {
      change("Revoke", "revoked", `Revoke "${label(key)}" for good? This cannot be undone.`,
             "danger");
    }
    td.append(box);
    return td;
  }

  // ---- new key -------------------------------------------------------------------------

  function optionalCount(id) {
    const raw = $(id).value.trim();
    if (raw === "") return null;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error("Counts are whole numbers, 0 or more.");
    return n;
  }

  async function create() {
    const body = {
      name: $("new-name").value.trim(),
      credits: optionalCount("new-credits"),
      rate_per_minute: optionalCount("new-rate"),
      max_in_flight: optionalCount("new-in-flight"),
    };
    const made = await api("POST", "keys", body);
    $("create").reset();
    $("secret-name").textContent = label(made.key);
    $("secret").textContent = made.secret;
    $("copy").textContent = "Copy";
    $("secret-box").classList.remove("hidden");
    await refresh();
  }

  async function copySecret() {
    const secret = $("secret").textContent;
    try {
      await navigator.clipboard.writeText(secret);
    } catch (e) {
      // No clipboard permission: select it, for Ctrl+C.
      const selection = window.getSelection();
      const r = document.createRange();
      r.selectNodeContents($("secret"));
      selection.removeAllRanges();
      selection.addRange(r);
      $("copy").textContent = "Press Ctrl+C";
      return;
    }
    $("copy").textContent = "Copied";
  }

  // ---- chart ---------------------------------------------------------------------------

  function renderChartChoice() {
    const select = $("chart-key");
    const chosen = select.value;
    select.replaceChildren(el("option", "all keys, stacked"));
    select.options[0].value = "";
    for (const key of keys) {
      const option = el("option", `${label(key)} (${key.id})`);
      option.value = key.id;
      select.append(option);
    }
    select.value = keys.some((k) => k.id === chosen) ? chosen : "";
  }

  function renderChart() {
    const chosen = $("chart-key").value;
    const span = days();
    $("chart-range").textContent = `${range.from} to ${range.to} (UTC days)`;
    const rows = usage.filter((u) => !chosen || u.key_id === chosen);
    // Series: one per key with images, most first; past 7 keys the rest are "others".
    const totals = new Map();
    for (const u of rows) totals.set(u.key_id, (totals.get(u.key_id) || 0) + u.images);
    let series = [...totals.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
      .map(([id]) => id);
    const others = series.length > COLORS.length ? new Set(series.slice(COLORS.length - 1)) : null;
    if (others) series = [...series.slice(0, COLORS.length - 1), "*others"];
    const seriesOf = (id) => (others && others.has(id) ? "*others" : id);
    const byDay = new Map(span.map((d) => [d, new Map()]));
    for (const u of rows) {
      const day = byDay.get(u.day);
      if (!day || !u.images) continue;
      const s = seriesOf(u.key_id);
      day.set(s, (day.get(s) || 0) + u.images);
    }
    const max = Math.max(1, ...[...byDay.values()].map(
      (m) => [...m.values()].reduce((a, b) => a + b, 0)));
    const chart = $("chart");
    chart.replaceChildren();
    const W = 720, H = 260, left = 44, right = 8, top = 10, bottom = 28;
    const plotW = W - left - right, plotH = H - top - bottom;
    const step = niceStep(max);
    const ceiling = Math.ceil(max / step) * step;
    for (let v = 0; v <= ceiling; v += step) {
      const y = top + plotH - (v / ceiling) * plotH;
      chart.append(svg("line", { x1: left, x2: W - right, y1: y, y2: y, class: "axis" }));
      const t = svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" });
      t.textContent = String(v);
      chart.append(t);
    }
    const slot = plotW / span.length;
    const names = new Map(keys.map((k) => [k.id, label(k)]));
    span.forEach((day, i) => {
      let y = top + plotH;
      const x = left + i * slot + slot * 0.15;
      const counts = byDay.get(day);
      series.forEach((s, j) => {
        const n = counts.get(s) || 0;
        if (!n) return;
        const h = (n / ceiling) * plotH;
        y -= h;
        const bar = svg("rect", { x, y, width: slot * 0.7, height: h, fill: COLORS[j],
                                  class: "bar", "data-day": day, "data-key": s,
                                  "data-images": n });
        const title = svg("title");
        title.textContent = `${day}: ${s === "*others" ? "other keys" : names.get(s) || s}, ` +
                            `${n} image${n === 1 ? "" : "s"}`;
        bar.append(title);
        chart.append(bar);
      });
      if (i % 5 === (span.length - 1) % 5) {
        const t = svg("text", { x: x + slot * 0.35, y: H - 10, "text-anchor": "middle" });
        t.textContent = day.slice(5);
        chart.append(t);
      }
    });
    chart.append(svg("line", { x1: left, x2: W - right, y1: top + plotH, y2: top + plotH,
                               class: "axis" }));
    renderLegend(series, names);
    renderFailures(rows);
  }

  function niceStep(max) {
    const rough = max / 4;
    const power = 10 ** Math.floor(Math.log10(rough || 1));
    for (const m of [1, 2, 5, 10]) if (m * power >= rough) return Math.max(1, m * power);
    return Math.max(1, 10 * power);
  }

  function renderLegend(series, names) {
    const legend = $("legend");
    legend.replaceChildren();
    series.forEach((s, j) => {
      const li = el("li");
      const swatch = svg("svg", { width: 12, height: 12, "aria-hidden": "true" });
      swatch.append(svg("rect", { width: 12, height: 12, rx: 2, fill: COLORS[j] }));
      li.append(swatch, document.createTextNode(s === "*others" ? "other keys"
                                                : names.get(s) || s));
      legend.append(li);
    });
    if (!series.length) legend.append(el("li", "No images in these days."));
  }

  function renderFailures(rows) {
    const sums = new Map();
    for (const u of rows) {
      for (const [problem, n] of Object.entries(u.failures)) {
        sums.set(problem, (sums.get(problem) || 0) + n);
      }
    }
    const body = $("failures").tBodies[0];
    body.replaceChildren();
    for (const [problem, n] of [...sums.entries()].sort((a, b) => b[1] - a[1])) {
      const tr = el("tr");
      tr.dataset.problem = problem;
      tr.append(el("td", problem), el("td", n, "num"));
      body.append(tr);
    }
    $("no-failures").classList.toggle("hidden", sums.size > 0);
  }

  // ---- wiring --------------------------------------------------------------------------

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN, token);
    run(connect);
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN);
    keys = [];
    usage = [];
    signedOut("Token forgotten.");
  });
  $("refresh").addEventListener("click", () => run(refresh));
  $("create").addEventListener("submit", (event) => {
    event.preventDefault();
    run(create);
  });
  $("copy").addEventListener("click", () => run(copySecret));
  $("secret-done").addEventListener("click", () => {
    $("secret").textContent = "";
    $("secret-box").classList.add("hidden");
  });
  $("chart-key").addEventListener("change", renderChart);

  if (sessionStorage.getItem(TOKEN)) run(connect);
})();
