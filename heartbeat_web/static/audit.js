/* Audit pages: owner/verification saves and "Refresh now" through the REST API with the pasted bearer
   token (kept in this browser's localStorage only, shared with the metric page). Results show inline. */
(function () {
  "use strict";
  var KEY = "heartbeat.token";
  var tokenInput = document.querySelector("[data-token-box] input[name=token]");
  if (tokenInput) {
    try { tokenInput.value = window.localStorage.getItem(KEY) || ""; } catch (e) { /* private mode */ }
    tokenInput.addEventListener("change", function () {
      try { window.localStorage.setItem(KEY, tokenInput.value); } catch (e) { /* private mode */ }
    });
  }
  function token() { return tokenInput ? tokenInput.value : ""; }

  function send(method, url, payload, out, busy) {
    var headers = { "Content-Type": "application/json" };
    if (token()) { headers.Authorization = "Bearer " + token(); }
    out.className = ""; out.textContent = busy;
    return fetch(url, { method: method, headers: headers, body: payload === null ? null : JSON.stringify(payload) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) { throw new Error(data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : "HTTP " + r.status); }
          out.className = "ok";
          return data;
        });
      })
      .catch(function (err) { out.className = "err"; out.textContent = err.message; return null; });
  }

  document.querySelectorAll("form[data-cut-form]").forEach(function (form) {
    var id = form.getAttribute("data-cut-form");
    var out = form.querySelector("output");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var payload = {};
      form.querySelectorAll("input, select").forEach(function (el) {
        var v = el.value.trim();
        payload[el.name] = v === "" ? null : v;
      });
      send("PATCH", "/api/audit/cuts/" + encodeURIComponent(id) + "/verification", payload, out, "saving…")
        .then(function (data) { if (data) { out.textContent = "saved"; } });
    });
    var refresh = form.querySelector("[data-refresh]");
    if (refresh) {
      refresh.addEventListener("click", function () {
        refresh.disabled = true;
        send("POST", "/api/audit/cuts/" + encodeURIComponent(id) + "/refresh", null, out, "refreshing…")
          .then(function (data) {
            refresh.disabled = false;
            if (!data) { return; }
            if (data.failed) {
              out.className = "err";
              out.textContent = data.outcomes.filter(function (o) { return !o.ok; }).map(function (o) { return o.window + ": " + o.error; }).join("; ");
            } else {
              out.textContent = "refreshed " + data.computed + " snapshot(s) — reloading";
              window.location.reload();
            }
          });
      });
    }
  });
})();
