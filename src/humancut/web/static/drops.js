// humancut trial page: the drop zones of the photo and the video tabs, made from one pattern.
// Each <div data-drop="PREFIX" data-accept="..."> holds its own texts (span.drop-main,
// span.drop-sub, and an optional span.label); this adds button#PREFIXdrop (the texts moved
// into it), the hidden input#PREFIXfile and p#PREFIXfile-info that app.js (PREFIX "") and
// video.js ("v") use. Listed before them, so it runs first (deferred scripts keep order).
"use strict";

(function () {
  for (const holder of document.querySelectorAll("[data-drop]")) {
    const prefix = holder.dataset.drop;
    const label = holder.querySelector(".label");
    const info = Object.assign(document.createElement("p"),
                               { id: prefix + "file-info", className: "note" });
    info.setAttribute("aria-live", "polite");
    const button = Object.assign(document.createElement("button"),
                                 { type: "button", id: prefix + "drop", className: "drop" });
    button.setAttribute("aria-describedby", (label ? label.id + " " : "") + info.id);
    button.append(...holder.querySelectorAll(".drop-main, .drop-sub"));
    const input = Object.assign(document.createElement("input"), {
      type: "file", id: prefix + "file", className: "visually-hidden", tabIndex: -1,
      accept: holder.dataset.accept,
    });
    input.setAttribute("aria-hidden", "true");
    holder.append(button, input, info);
  }
})();
