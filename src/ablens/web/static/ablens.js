/* ablens web UI: mark a form posted the classic way (a full page load, such as an upload) as
   busy, the way htmx marks its own requests, so the page shows its "working" sign and greys the
   old answer until the new page arrives. No inline script: the pages' Content-Security-Policy
   allows scripts from this server only. */
document.addEventListener("submit", function (event) {
  var form = event.target;
  /* A button that downloads a file (the page stays) does not make the page busy. */
  var quiet = event.submitter && event.submitter.hasAttribute("data-not-busy");
  if (form instanceof HTMLFormElement && form.hasAttribute("data-busy") && !quiet) {
    form.classList.add("htmx-request");
  }
});
/* A page restored by the back button is not busy any more. */
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-busy].htmx-request").forEach(function (form) {
    form.classList.remove("htmx-request");
  });
});
