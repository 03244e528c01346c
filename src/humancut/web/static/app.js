// humancut trial page. Plain JavaScript, no build step, no external resources.
// It calls the same public endpoint as any client, with fetch().
"use strict";

(function () {
  const ENDPOINT = "api/cutout/portrait/portrait-background-removal";
  const TRIAL = "api/trial";
  const KEY_STORE = "humancut.apiKey";
  const SUFFIX = { "": "cutout", mask: "mask", whiteBK: "white", crop: "crop" };
  const FORM_NAMES = { "": "cut-out", mask: "mask", whiteBK: "white background", crop: "cropped" };
  const RUN_LABEL = "Remove background";
  const BUSY_LABEL = "Working\u2026";

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("form"), key: $("key"), keyShow: $("key-show"), keyForget: $("key-forget"),
    keyState: $("key-state"), drop: $("drop"), file: $("file"), fileInfo: $("file-info"),
    run: $("run"), status: $("status"), error: $("error"), results: $("results"),
    compare: $("compare"), compareNote: $("compare-note"), slider: $("slider"),
    cmpOriginal: $("cmp-original"), cmpResult: $("cmp-result"), side: $("side"),
    original: $("original"), result: $("result"), originalMeta: $("original-meta"),
    resultMeta: $("result-meta"), viewSlider: $("view-slider"), viewSide: $("view-side"),
    download: $("download"), open: $("open"), timing: $("timing"),
    endpoint: $("endpoint"), sampleCode: $("sample-code"), sampleLink: $("sample-link"),
    sample: $("sample"),
  };

  const state = {
    file: null,           // the chosen File/Blob
    stem: "photo",        // file name without extension, for the download name
    originalUrl: null,    // blob: URL of the chosen photo
    resultUrl: null,      // blob: URL of the last result
    busy: false,          // a request is in flight (or its result is being shown)
    pending: false,       // the photo or the output changed meanwhile: run again after it
    seq: 0,               // increases with every request and change; stale answers are dropped
    demoKey: null,        // the key GET /api/trial gave us, if any
    view: "slider",       // "slider" | "side"
    lastForm: "",
  };

  // ---- helpers -----------------------------------------------------------------------

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KB";
    return (n / (1024 * 1024)).toFixed(2) + " MB";
  }

  function formatSeconds(ms) {
    return ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(2) + " s";
  }

  function stemOf(name) {
    const base = String(name || "").split(/[\\/]/).pop() || "";
    return base.replace(/\.[^.]*$/, "").trim() || "photo";
  }

  function selectedForm() {
    const checked = el.form.querySelector('input[name="return_form"]:checked');
    return checked ? checked.value : "";
  }

  function setStatus(text, busy) {
    el.status.textContent = text || "";
    el.status.classList.toggle("busy", Boolean(busy));
  }

  function showError(title, code, message) {
    el.error.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = title;
    el.error.append(strong);
    if (message) {
      const p = document.createElement("span");
      p.className = "message";
      p.textContent = message;
      el.error.append(p);
    }
    if (code) {
      const c = document.createElement("div");
      c.className = "code";
      c.textContent = code;
      el.error.append(c);
    }
    el.error.classList.remove("hidden");
  }

  function clearError() {
    el.error.classList.add("hidden");
    el.error.replaceChildren();
  }

  function revoke(url) {
    if (url && url.startsWith("blob:")) URL.revokeObjectURL(url);
  }

  // ---- the API key -------------------------------------------------------------------

  function storedKey() {
    try { return localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  function storeKey(value) {
    try {
      if (value) localStorage.setItem(KEY_STORE, value);
      else localStorage.removeItem(KEY_STORE);
    } catch (e) { /* private mode: keep it in the page only */ }
  }

  function showKeyState() {
    const value = el.key.value.trim();
    let text = "";
    if (value && value === state.demoKey) text = "demo key";
    else if (value && value === storedKey()) text = "saved";
    el.keyState.textContent = text;
    el.keyState.classList.toggle("hidden", !text);
    updateRun();
  }

  el.key.addEventListener("input", () => {
    const value = el.key.value.trim();
    if (value !== state.demoKey) storeKey(value);
    showKeyState();
  });

  el.keyShow.addEventListener("click", () => {
    const show = el.key.type === "password";
    el.key.type = show ? "text" : "password";
    el.keyShow.textContent = show ? "Hide" : "Show";
    el.keyShow.setAttribute("aria-pressed", String(show));
  });

  el.keyForget.addEventListener("click", () => {
    storeKey("");
    el.key.value = state.demoKey || "";
    showKeyState();
    el.key.focus();
  });

  async function loadTrialKey() {
    try {
      const response = await fetch(TRIAL, { headers: { Accept: "application/json" } });
      if (!response.ok) return;  // 404: the trial is off
      const answer = await response.json();
      if (!answer || !answer.enabled || !answer.key) return;
      state.demoKey = String(answer.key);
      if (!el.key.value.trim()) {
        el.key.value = state.demoKey;
      }
      showKeyState();
    } catch (e) {
      /* no trial: the page works with a key typed in */
    }
  }

  // ---- choosing a photo --------------------------------------------------------------

  // While a request runs the button says so and does nothing: the server may allow one
  // request in flight per key (the demo key does), so a second one would only be refused.
  // Busy is aria-disabled rather than disabled, so that a keyboard user keeps the focus.
  function updateRun() {
    el.run.disabled = !state.file;
    // keep the width while it says "Working…", so the status beside it does not move
    const label = state.busy ? BUSY_LABEL : RUN_LABEL;
    if (el.run.textContent !== label) {
      el.run.style.minWidth = state.busy ? el.run.offsetWidth + "px" : "";
      el.run.textContent = label;
    }
    if (state.busy) {
      el.run.setAttribute("aria-disabled", "true");
      el.run.setAttribute("aria-busy", "true");
      el.form.setAttribute("aria-busy", "true");
    } else {
      el.run.removeAttribute("aria-disabled");
      el.run.removeAttribute("aria-busy");
      el.form.removeAttribute("aria-busy");
    }
  }

  function choose(file, stem) {
    if (!file) return;
    state.file = file;
    state.stem = stem || stemOf(file.name);
    revoke(state.originalUrl);
    state.originalUrl = URL.createObjectURL(file);
    const type = file.type ? file.type.replace("image/", "").toUpperCase() + ", " : "";
    el.fileInfo.textContent = (file.name || "pasted image") + " (" + type + formatBytes(file.size) + ")";
    const probe = new Image();
    probe.onload = () => {
      if (state.file !== file) return;
      el.fileInfo.textContent = (file.name || "pasted image") + " (" + type +
        probe.naturalWidth + "\u00d7" + probe.naturalHeight + " px, " + formatBytes(file.size) + ")";
      el.originalMeta.textContent = probe.naturalWidth + "\u00d7" + probe.naturalHeight;
    };
    probe.src = state.originalUrl;
    el.originalMeta.textContent = "";
    el.results.classList.add("hidden");  // the last result belongs to another photo
    updateRun();
    submit(true);
  }

  el.drop.addEventListener("click", () => el.file.click());
  el.file.addEventListener("change", () => {
    if (el.file.files && el.file.files[0]) choose(el.file.files[0]);
    el.file.value = "";  // choosing the same file again runs it again
  });

  function hasFiles(event) {
    const types = event.dataTransfer && event.dataTransfer.types;
    return Boolean(types) && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  // Dropping anywhere on the page works; the drop zone lights up.
  let dragDepth = 0;
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    el.drop.classList.add("over");
  });
  document.addEventListener("dragleave", (event) => {
    if (!hasFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) el.drop.classList.remove("over");
  });
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    el.drop.classList.remove("over");
    if (document.body.classList.contains("video-mode")) return;  // video.js takes it
    const file = event.dataTransfer.files && event.dataTransfer.files[0];
    if (file) choose(file);
  });

  document.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    if (!data) return;
    let file = data.files && data.files[0];
    if (!file && data.items) {
      for (const item of data.items) {
        if (item.kind === "file") { file = item.getAsFile(); break; }
      }
    }
    if (!file) return;  // text pasted into the key field stays text
    event.preventDefault();
    choose(file, "pasted");
  });

  // ---- calling the API ---------------------------------------------------------------

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(false);  // the button (or Enter): ignored while a request runs
  });

  el.form.addEventListener("change", (event) => {
    if (event.target && event.target.name === "return_form" && state.file) submit(true);
  });

  function keyOrAsk() {
    const key = el.key.value.trim();
    if (!key) {
      showError("An API key is needed.", "",
        "Paste the key you were given into the API key field (ask the operator of this " +
        "server for one; `humancut keys create` makes one).");
      el.key.focus();
    }
    return key;
  }

  // Runs the chosen photo, one request at a time. `queue`: a new photo or output chosen
  // while a request runs is not sent at once (aborting a fetch does not stop the server's
  // work, so the key would still be busy); the answer in flight is dropped when it comes
  // and the new choice runs right after it.
  async function submit(queue) {
    if (!state.file) {
      el.drop.focus();
      return;
    }
    if (state.busy) {
      if (queue) {
        state.pending = true;
        state.seq += 1;
        setStatus("Waiting for the request in flight\u2026", true);
      }
      return;
    }
    if (!keyOrAsk()) return;
    state.busy = true;
    updateRun();
    try {
      do {
        state.pending = false;
        await run();
      } while (state.pending && state.file);
    } finally {
      state.busy = false;
      state.pending = false;
      updateRun();
    }
  }

  // One POST and, when it succeeds, its result fetched and shown.
  async function run() {
    const key = keyOrAsk();
    if (!key) { setStatus(""); return; }
    const seq = ++state.seq;
    const form = selectedForm();

    clearError();
    setStatus("Removing the background\u2026", true);

    const body = new FormData();
    body.append("image", state.file, state.file.name || "pasted.png");
    if (form) body.append("return_form", form);

    const started = performance.now();
    let response;
    let answer = null;
    try {
      response = await fetch(ENDPOINT, {
        method: "POST",
        headers: { "ailabapi-api-key": key },
        body: body,
      });
      const text = await response.text();
      try { answer = JSON.parse(text); } catch (e) { answer = { _text: text }; }
    } catch (e) {
      if (seq !== state.seq) return;
      setStatus("");
      showError("The server could not be reached.", "",
        "Check your connection and that the server is running, then try again. (" +
        (e && e.message ? e.message : e) + ")");
      return;
    }
    const elapsed = performance.now() - started;
    if (seq !== state.seq) return;

    const ok = response.ok && answer && answer.error_code === 0 && answer.data &&
      answer.data.image_url;
    if (!ok) {
      setStatus("");
      reportFailure(response, answer);
      return;
    }

    setStatus("Fetching the result\u2026", true);
    await showResult(answer.data.image_url, form, elapsed, seq);
  }

  function reportFailure(response, answer) {
    const detail = (answer && answer.error_detail) || {};
    const code = detail.code || (answer && answer.error_code_str) || "";
    const status = detail.status_code || (answer && answer.error_code) || response.status;
    const message = detail.message || (answer && answer.error_msg) || "";
    if (code || message) {
      showError(message || detail.code_message || "The request failed.",
        (code ? code + " " : "") + "(HTTP " + status + ")" +
          (answer && answer.log_id ? " \u00b7 log id " + answer.log_id : ""),
        message && detail.code_message && detail.code_message !== message ?
          detail.code_message : "");
    } else {
      const text = answer && answer._text ? answer._text.slice(0, 300) : "";
      showError("The server answered HTTP " + response.status + " " + response.statusText + ".",
        "", text);
    }
    el.error.scrollIntoView({ block: "nearest" });  // role="alert" announces it
  }

  async function showResult(url, form, elapsed, seq) {
    let shown = url;
    let blob = null;
    try {
      // Same origin: fetch it so the download keeps our file name.
      const response = await fetch(url);
      if (!response.ok) throw new Error("HTTP " + response.status);
      blob = await response.blob();
      shown = URL.createObjectURL(blob);
    } catch (e) {
      blob = null;  // another origin (public_base_url) or gone: link to it directly
    }
    if (seq !== state.seq) { revoke(shown); return; }
    revoke(state.resultUrl);
    state.resultUrl = shown;
    state.lastForm = form;

    const name = state.stem + "-" + SUFFIX[form] + ".png";
    el.download.href = shown;
    el.download.setAttribute("download", name);
    el.download.textContent = "Download " + name;
    el.open.href = url;

    el.original.src = state.originalUrl;
    el.cmpOriginal.src = state.originalUrl;
    const loaded = new Promise((resolve) => {
      el.result.onload = resolve;
      el.result.onerror = resolve;
    });
    el.result.src = shown;
    el.cmpResult.src = shown;
    el.result.alt = "Result: " + FORM_NAMES[form];
    el.cmpResult.alt = el.result.alt;
    await loaded;
    if (seq !== state.seq) return;

    const w = el.result.naturalWidth;
    const h = el.result.naturalHeight;
    el.resultMeta.textContent = w ? w + "\u00d7" + h + (blob ? ", " + formatBytes(blob.size) : "") : "";
    el.timing.textContent = FORM_NAMES[form] + " in " + formatSeconds(elapsed);
    el.results.classList.remove("hidden");
    el.results.dataset.form = form;
    applyView();
    setStatus("Done in " + formatSeconds(elapsed) + ".");
  }

  // ---- views -------------------------------------------------------------------------

  function applyView() {
    const crop = state.lastForm === "crop";  // a different size: the slider cannot align
    const slider = state.view === "slider" && !crop;
    el.compare.classList.toggle("hidden", !slider);
    el.side.classList.toggle("hidden", slider);
    el.compareNote.classList.toggle("hidden", !(crop && state.view === "slider"));
    el.viewSlider.setAttribute("aria-pressed", String(state.view === "slider"));
    el.viewSide.setAttribute("aria-pressed", String(state.view === "side"));
  }

  el.viewSlider.addEventListener("click", () => { state.view = "slider"; applyView(); });
  el.viewSide.addEventListener("click", () => { state.view = "side"; applyView(); });

  function setPosition() {
    const value = Number(el.slider.value);
    el.compare.style.setProperty("--pos", value + "%");
    el.slider.setAttribute("aria-valuetext", value + "% original, " + (100 - value) + "% result");
  }
  el.slider.addEventListener("input", setPosition);
  setPosition();

  // ---- samples -----------------------------------------------------------------------

  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  const samples = {};

  async function selectTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
    }
    if (focus) tab.focus();
    el.sample.setAttribute("aria-labelledby", tab.id);
    const file = tab.dataset.file;
    el.sampleLink.href = "static/samples/" + file;
    el.sampleLink.setAttribute("download", file);
    if (!(file in samples)) {
      el.sampleCode.textContent = "Loading\u2026";
      try {
        const response = await fetch("static/samples/" + file);
        samples[file] = response.ok ? await response.text() : "(could not load " + file + ")";
      } catch (e) {
        samples[file] = "(could not load " + file + ")";
      }
    }
    if (tab.getAttribute("aria-selected") === "true") el.sampleCode.textContent = samples[file];
  }

  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (event) => {
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
      else if (event.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") next = tabs[0];
      else if (event.key === "End") next = tabs[tabs.length - 1];
      if (next) { event.preventDefault(); selectTab(next, true); }
    });
  });

  // ---- start -------------------------------------------------------------------------

  el.endpoint.textContent = new URL(ENDPOINT, document.baseURI).href;
  el.key.value = storedKey();
  showKeyState();
  loadTrialKey();
  selectTab(tabs[0], false);
})();
