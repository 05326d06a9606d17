/* ablens readout page: the report frame as tall as the report (no inner scrollbar), and a
   "Copy link" button. A file, not inline, so a Content-Security-Policy without inline scripts
   allows it. */
(function () {
  "use strict";
  function fit(frame) {
    var doc;
    try { doc = frame.contentDocument; } catch (error) { return; }
    if (!doc || !doc.documentElement || !doc.body) { return; }
    doc.documentElement.style.overflowY = "hidden";
    var body = doc.body, style = doc.defaultView.getComputedStyle(body);
    var height = body.getBoundingClientRect().height +
      parseFloat(style.marginTop) + parseFloat(style.marginBottom);
    var wide = doc.documentElement.scrollWidth > doc.documentElement.clientWidth;
    frame.style.height = Math.ceil(height + (wide ? 20 : 0) + 2) + "px";
  }
  function watch(frame) {
    var doc = frame.contentDocument;
    if (!doc || !doc.body) { return; }
    fit(frame);
    if (window.ResizeObserver) {
      new ResizeObserver(function () { fit(frame); }).observe(doc.body);
    }
    doc.addEventListener("toggle", function () { fit(frame); }, true);
  }
  function start() {
    var frame = document.getElementById("report");
    if (frame) {
      frame.addEventListener("load", function () { watch(frame); });
      if (frame.contentDocument && frame.contentDocument.readyState === "complete") { watch(frame); }
      window.addEventListener("resize", function () { fit(frame); });
    }
    var copy = document.getElementById("copy-link");
    if (copy && navigator.clipboard) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        var url = new URL(copy.getAttribute("data-href"), window.location.href).href;
        navigator.clipboard.writeText(url).then(function () {
          document.getElementById("copied").textContent = "Link copied: " + url;
        }, function () {
          document.getElementById("copied").textContent = "Copy this address: " + url;
        });
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
