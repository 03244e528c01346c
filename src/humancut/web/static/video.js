// humancut trial page, the video tab. Plain JavaScript, no build step.
// It submits the clip to the public video route, polls the task with the family's async
// query route (as any client does), shows the progress, then the result over a checkerboard.
"use strict";

(function () {
  const SUBMIT = "api/cutout/portrait/video-background-removal";
  const QUERY = "api/common/query-async-task-result";
  const SUFFIX = { webm: ".webm", mov: ".mov", png_zip: ".zip", mask: ".mp4", whiteBK: ".mp4" };
  const PLAYS = { webm: true };  // what every browser plays (H.264 and ProRes may not)
  const POLL_MS = 700;

  const $ = (id) => document.getElementById(id);
  const el = {
    modePhoto: $("mode-photo"), modeVideo: $("mode-video"), key: $("key"),
    drop: $("vdrop"), file: $("vfile"), info: $("vfile-info"), form: $("vform"),
    run: $("vrun"), status: $("vstatus"), progress: $("vprogress"), error: $("verror"),
    results: $("vresults"), original: $("voriginal"), result: $("vresult"),
    meta: $("vresult-meta"), note: $("vnote"), download: $("vdownload"),
  };
  const state = { file: null, originalUrl: null, resultUrl: null, busy: false, seq: 0 };

  function setMode(video) {
    document.body.classList.toggle("video-mode", video);
    el.modeVideo.setAttribute("aria-pressed", String(video));
    el.modePhoto.setAttribute("aria-pressed", String(!video));
  }

  function setStatus(text) { el.status.textContent = text || ""; }

  function showError(code, message) {
    el.error.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = code ? `${code}` : "The clip could not be processed.";
    const span = document.createElement("span");
    span.className = "message";
    span.textContent = message || "";
    el.error.append(strong, span);
    el.error.classList.remove("hidden");
  }

  function failure(response, answer) {
    const detail = (answer && answer.error_detail) || {};
    showError(detail.code || (answer && answer.error_code_str) || `HTTP ${response.status}`,
      detail.message || (answer && answer.error_msg) || "");
  }

  function choose(file) {
    if (!file) return;
    state.file = file;
    if (state.originalUrl) URL.revokeObjectURL(state.originalUrl);
    state.originalUrl = URL.createObjectURL(file);
    el.original.src = state.originalUrl;
    el.info.textContent = `${file.name || "clip"}: ${(file.size / 1048576).toFixed(2)} MB`;
    el.run.disabled = state.busy;
    el.error.classList.add("hidden");
  }

  async function call(url, options) {
    const response = await fetch(url, options);
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    return [response, answer];
  }

  async function run() {
    const key = el.key.value.trim();
    if (!key) { showError("", "Enter your API key first."); el.key.focus(); return; }
    if (!state.file || state.busy) return;
    const seq = ++state.seq;
    const form = el.form.value;
    state.busy = true;
    el.run.disabled = true;
    el.error.classList.add("hidden");
    el.results.classList.add("hidden");
    el.download.classList.add("hidden");
    el.note.classList.add("hidden");
    el.progress.value = 0;
    el.progress.classList.remove("hidden");
    try {
      const body = new FormData();
      body.append("video", state.file, state.file.name || "clip.mp4");
      body.append("return_form", form);
      const headers = { "ailabapi-api-key": key };
      setStatus("Uploading\u2026");
      let [response, answer] = await call(SUBMIT, { method: "POST", headers, body });
      if (!response.ok || !answer || answer.error_code !== 0) return failure(response, answer);
      const task = answer.task_id;
      while (seq === state.seq) {
        [response, answer] = await call(`${QUERY}?task_id=${encodeURIComponent(task)}`,
          { headers });
        if (!response.ok || !answer || answer.error_code !== 0) return failure(response, answer);
        const data = answer.data || {};
        el.progress.value = data.progress || 0;
        if (answer.task_status === 2) return await show(data, form, seq);
        setStatus(answer.task_status === 0 ? "Queued\u2026" :
          `Processing: frame ${data.frames_done || 0} of ${data.frames || "?"}`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } catch (e) {
      showError("", `The server could not be reached (${e && e.message ? e.message : e}).`);
    } finally {
      state.busy = false;
      el.run.disabled = !state.file;
      if (!el.error.classList.contains("hidden")) {
        setStatus("");
        el.progress.classList.add("hidden");
      }
    }
  }

  async function show(data, form, seq) {
    setStatus("Fetching the result\u2026");
    const response = await fetch(data.video_url);
    if (!response.ok) { showError(`HTTP ${response.status}`, "The result is gone."); return; }
    const blob = await response.blob();
    if (seq !== state.seq) return;
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = URL.createObjectURL(blob);
    const stem = ((state.file && state.file.name) || "clip").replace(/\.[^.]*$/, "");
    el.download.href = state.resultUrl;
    el.download.download = `${stem}-${form}${SUFFIX[form]}`;
    el.download.classList.remove("hidden");
    el.progress.value = 100;
    el.meta.textContent = `${data.width}\u00d7${data.height}, ${data.frames} frames`;
    if (PLAYS[form]) {
      el.result.src = state.resultUrl;
      el.results.classList.remove("hidden");
      el.original.currentTime = 0;
      await Promise.allSettled([el.original.play(), el.result.play()]);
    } else {
      el.note.classList.remove("hidden");
    }
    setStatus(`Done: ${data.frames} frames, ${Number(data.duration).toFixed(1)} s.`);
  }

  el.modePhoto.addEventListener("click", () => setMode(false));
  el.modeVideo.addEventListener("click", () => setMode(true));
  el.drop.addEventListener("click", () => el.file.click());
  el.file.addEventListener("change", () => choose(el.file.files && el.file.files[0]));
  // Dropping anywhere on the page in the video tab (app.js leaves it to us then).
  document.addEventListener("drop", (e) => {
    if (!document.body.classList.contains("video-mode")) return;
    e.preventDefault();
    choose(e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0]);
  });
  el.run.addEventListener("click", run);
  if (location.hash === "#video") setMode(true);
})();
