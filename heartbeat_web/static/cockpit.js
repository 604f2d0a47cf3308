/* Heartbeat cockpit: swap in the server-rendered partial every few seconds; keep the last good screen
   when the server cannot be reached, mark it "offline since HH:MM", retry with backoff, recover alone;
   reload fully when the server's build changes; say so when the screen's key was revoked (and keep
   trying, so a restored key or a restarted server brings it back). No modals, no toasts. */
(function () {
  "use strict";
  var body = document.body;
  var build = body.getAttribute("data-build");
  var refreshMs = Math.max(1, parseFloat(body.getAttribute("data-refresh") || "30")) * 1000;
  var root = document.getElementById("cockpit");
  var mark = document.getElementById("offline");
  var denied = document.getElementById("denied");
  var etag = "";
  var failures = 0;
  var offlineSince = null;
  var timer = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hhmm(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()); }

  function fit() {
    // Shrink everything a little until the page fits the screen: a TV cannot scroll.
    var scale = 1;
    root.style.setProperty("--fit", "1");
    for (var i = 0; i < 14 && root.scrollHeight > window.innerHeight + 1; i++) {
      scale *= 0.93;
      root.style.setProperty("--fit", scale.toFixed(3));
    }
  }

  function schedule(ms) { clearTimeout(timer); timer = setTimeout(tick, ms); }

  function stamp() {
    var el = root.querySelector("[data-screen]");
    if (el) { el.textContent = hhmm(new Date()); }
  }

  function refused(r) {
    // 401/403: the key was revoked or is not valid; the server says why
    return r.json().catch(function () { return {}; }).then(function (data) {
      denied.querySelector("[data-why]").textContent = (data && data.detail) || ("HTTP " + r.status);
      denied.hidden = false;
      body.classList.add("is-denied");
      throw new Error("denied " + r.status);
    });
  }

  function wentOnline() {
    failures = 0;
    stamp();
    if (!denied.hidden) { denied.hidden = true; body.classList.remove("is-denied"); }
    if (offlineSince !== null) {
      offlineSince = null;
      mark.hidden = true;
      body.classList.remove("is-offline");
    }
  }

  function wentOffline() {
    failures += 1;
    if (offlineSince === null) {
      offlineSince = new Date();
      mark.querySelector("[data-since]").textContent = hhmm(offlineSince);
      mark.hidden = false;
      body.classList.add("is-offline");
    }
  }

  function tick() {
    var ctrl = typeof AbortController === "function" ? new AbortController() : null;
    var guard = setTimeout(function () { if (ctrl) { ctrl.abort(); } }, 10000);
    var headers = {};
    if (etag) { headers["If-None-Match"] = etag; }
    fetch("/partials/cockpit", { cache: "no-store", headers: headers, signal: ctrl ? ctrl.signal : undefined })
      .then(function (r) {
        clearTimeout(guard);
        var serverBuild = r.headers.get("X-Heartbeat-Build");
        if (serverBuild && serverBuild !== build) { window.location.reload(); return null; }
        if (r.status === 304) { return ""; }
        if (r.status === 401 || r.status === 403) { return refused(r); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        var tag = r.headers.get("ETag");
        return r.text().then(function (html) { etag = tag || ""; return html; });
      })
      .then(function (html) {
        if (html === null) { return; }
        if (html) { root.innerHTML = html; fit(); }
        wentOnline();
        schedule(refreshMs);
      })
      .catch(function (err) {
        clearTimeout(guard);
        if (!(err && String(err.message).indexOf("denied") === 0)) { wentOffline(); } else { failures += 1; }
        schedule(Math.min(Math.max(refreshMs, 5000), 1000 * Math.pow(2, failures - 1)));
      });
  }

  window.addEventListener("resize", fit);
  fit();
  schedule(refreshMs);
})();
