/* The calculator page, progressively enhanced (the page works without it, by submitting):
   hide the fields the question does not use, put a metric kind's examples in when the kind is
   switched, mark the field at fault after each answer, and send the current inputs along with
   an upload of past data. The rules come from the server (data- attributes): none live here. */
(function () {
  "use strict";
  var form = document.getElementById("calculator");
  if (!form) return;
  var examples = JSON.parse(form.getAttribute("data-examples") || "{}");

  function current(name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    if (checked) return checked.value;
    var element = form.querySelector('[name="' + name + '"]');
    return element ? element.value : "";
  }

  function showApplicable() {
    var boxes = form.querySelectorAll("[data-applies-to]");
    for (var i = 0; i < boxes.length; i++) {
      var allowed = boxes[i].getAttribute("data-applies-values").split(" ");
      boxes[i].hidden = allowed.indexOf(current(boxes[i].getAttribute("data-applies-to"))) < 0;
    }
  }

  var kind = current("kind");
  function resetExamples() {
    var now = current("kind");
    if (now === kind) return;
    kind = now;
    // a rate and a mean never share a baseline: "10%" is no mean, "25" no rate
    ["baseline", "sd"].forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      if (input && examples[now]) input.value = examples[now][name] || "";
    });
  }

  function onEdit() {
    resetExamples();
    showApplicable();
  }
  // capture: runs before htmx reads the form for the request
  form.addEventListener("input", onEdit, true);
  form.addEventListener("change", onEdit, true);

  function markField() {
    var alert = document.getElementById("calculator-error");
    var field = alert ? alert.getAttribute("data-error-field") : "";
    var controls = form.querySelectorAll("input, select");
    for (var i = 0; i < controls.length; i++) {
      if (field && controls[i].name === field) {
        controls[i].setAttribute("aria-invalid", "true");
        var folded = controls[i].closest("details");
        if (folded) folded.open = true;
      } else {
        controls[i].removeAttribute("aria-invalid");
      }
    }
  }
  document.body.addEventListener("htmx:afterSwap", markField);

  var history = document.getElementById("history-form");
  if (history) {
    history.addEventListener("submit", function () {
      var inputs = new FormData(form);
      inputs.forEach(function (value, name) {
        var hidden = history.querySelector('input[type="hidden"][name="keep_' + name + '"]');
        if (hidden) hidden.value = value;
      });
    });
  }
})();
