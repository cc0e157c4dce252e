// rodnan: no lost typing (decision 0018). Every page works without this file; the server's checks stay.
// 1. Leaving a page whose form was changed (or refused) and not sent asks first (beforeunload).
// 2. Before a form is sent, /session/ says whether the session is still this page's user's. If it has
//    ended, a dialog asks for the password in place, then the form is sent exactly as typed, with the
//    new CSRF token: the same request, write path and audit entry as any save.
// Nothing typed is ever written to the browser's storage.
(function () {
  "use strict";
  var meta = null, leaving = false, tracked = [], refused = false;

  function postForms() {
    if (document.body.classList.contains("login")) return [];
    return Array.prototype.filter.call(document.querySelectorAll("main form"), function (f) {
      return (f.getAttribute("method") || "").toLowerCase() === "post" && f.getAttribute("data-unsaved") !== "off";
    });
  }

  function state(form) {
    var parts = [];
    new FormData(form).forEach(function (v, k) {
      if (k === "csrfmiddlewaretoken") return;
      parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(typeof v === "string" ? v : v.name + ":" + v.size));
    });
    return parts.join("&");
  }

  function dirty() {
    if (leaving) return false;
    return tracked.some(function (t) { return refused || state(t.form) !== t.initial; });
  }

  function setCsrf(token) {
    if (!token) return;
    document.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach(function (i) { i.value = token; });
  }

  function csrf() {
    var i = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return i ? i.value : "";
  }

  function send(form, submitter) {
    form.rodnanPass = true;
    form.rodnanBusy = false;
    if (form.requestSubmit) { form.requestSubmit(submitter || null); } else { leaving = true; form.submit(); }
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  function relogin(form, submitter, now) {
    var d = el("dialog", { "class": "relogin", "aria-labelledby": "relogin-title" });
    var box = el("form", { "data-unsaved": "off" });
    box.appendChild(el("h2", { id: "relogin-title" }, "Log in again to save"));
    var why = now ? "This browser is now logged in as " + now + ", but this page was opened by " + meta.user + "."
                  : "Your session ended after 30 minutes without activity.";
    box.appendChild(el("p", {}, why + " What you typed is still on this page: log in as " + meta.user + " and it will be saved."));
    if (document.body.classList.contains("patient")) box.appendChild(el("p", { "class": "muted" }, "Please hand the tablet to the study staff."));
    box.appendChild(el("label", { "for": "relogin-user" }, "User name"));
    var user = el("input", { id: "relogin-user", name: "username", autocomplete: "username", required: "" });
    user.value = meta.user;
    box.appendChild(user);
    box.appendChild(el("label", { "for": "relogin-password" }, "Password"));
    var password = el("input", { id: "relogin-password", name: "password", type: "password", autocomplete: "current-password", required: "" });
    box.appendChild(password);
    var error = el("p", { "class": "msg error", role: "alert", hidden: "" });
    box.appendChild(error);
    var buttons = el("p", { "class": "buttons" });
    var ok = el("button", { "class": "primary", type: "submit" }, "Log in and save");
    var cancel = el("button", { type: "button" }, "Cancel");
    buttons.appendChild(ok);
    buttons.appendChild(cancel);
    box.appendChild(buttons);
    d.appendChild(box);
    document.body.appendChild(d);

    function close() { form.rodnanBusy = false; password.value = ""; d.close(); d.remove(); }
    function fail(text) { error.textContent = text; error.hidden = false; password.value = ""; ok.disabled = false; password.focus(); }
    cancel.addEventListener("click", close);
    d.addEventListener("cancel", function (e) { e.preventDefault(); close(); });
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      ok.disabled = true;
      var body = new FormData();
      body.append("username", user.value);
      body.append("password", password.value);
      body.append("token", meta.token);
      fetch(meta.url, { method: "POST", body: body, credentials: "same-origin", cache: "no-store",
                        headers: { "X-CSRFToken": csrf(), "Accept": "application/json" } })
        .then(function (r) {
          var json = (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
          return (json ? r.json() : Promise.resolve(null)).then(function (data) { return { status: r.status, data: data }; });
        })
        .then(function (res) {
          if (res.status === 200 && res.data) { setCsrf(res.data.csrf); close(); send(form, submitter); return; }
          if (res.data && res.data.error) { fail(res.data.error); return; }
          if (res.status === 429) { fail("Too many failed logins: this user name is locked for 30 minutes. Keep this page open, or ask an administrator."); return; }
          fail("The login could not be checked (error " + res.status + "). Keep this page open and try again.");
        })
        .catch(function () { fail("The server could not be reached. Keep this page open and try again."); });
    });
    d.showModal();
    password.focus();
  }

  function onSubmit(e) {
    var form = e.target;
    if (form.rodnanPass) { form.rodnanPass = false; leaving = true; return; }
    if (!meta || !window.fetch || !e.cancelable) { leaving = true; return; }
    e.preventDefault();
    if (form.rodnanBusy) return;
    form.rodnanBusy = true;
    var submitter = e.submitter || null;
    fetch(meta.url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { send(form, submitter); return; }
        setCsrf(s.csrf);
        if (s.user === meta.user) { send(form, submitter); } else { relogin(form, submitter, s.user); }
      })
      .catch(function () { send(form, submitter); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var m = document.querySelector('meta[name="rodnan-session"]');
    if (m) meta = { url: m.getAttribute("content"), user: m.getAttribute("data-user"), token: m.getAttribute("data-token") };
    // a form sent back by the server (refused, a warning to confirm, an edit conflict) still holds unsaved typing
    refused = Array.prototype.some.call(document.querySelectorAll("main .msg.error, main .field-error"),
                                        function (x) { return !x.closest(".messages"); });
    tracked = postForms().map(function (f) {
      f.addEventListener("submit", onSubmit);
      return { form: f, initial: state(f) };
    });
  });
  window.addEventListener("pageshow", function () { leaving = false; });
  window.addEventListener("beforeunload", function (e) {
    if (!dirty()) return undefined;
    e.preventDefault();
    e.returnValue = "";
    return "";
  });
})();
