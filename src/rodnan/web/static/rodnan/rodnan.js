// rodnan: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function mrssTotal(form) {
    var out = document.getElementById("mrss-total");
    if (!out) return;
    var inputs = form.querySelectorAll("input[data-mrss]:checked");
    var total = 0, scored = 0;
    inputs.forEach(function (i) { if (i.value !== "") { total += parseInt(i.value, 10); scored += 1; } });
    var areas = new Set(Array.prototype.map.call(form.querySelectorAll("input[data-mrss]"), function (i) { return i.name; })).size;
    out.textContent = scored === areas ? String(total) : total + " (" + scored + " of " + areas + " areas scored)";
  }
  var timer = null;
  function preview(form) {
    var url = form.getAttribute("data-preview");
    var panel = document.getElementById("eligibility-panel");
    if (!url || !panel) return;
    clearTimeout(timer);
    timer = setTimeout(function () {
      var body = new FormData(form);
      Array.from(body.keys()).forEach(function (k) { if (k.indexOf("file_") === 0) { body.delete(k); } });  // files are not previewed
      fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { panel.innerHTML = html; } })
        .catch(function () {});
    }, 300);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("crf");
    if (!form) return;
    mrssTotal(form);
    form.addEventListener("change", function () { mrssTotal(form); preview(form); });
    form.addEventListener("input", function () { preview(form); });
  });
})();
