/* Heartbeat on a wall: `?scale=` (0.5–3) sizes the cockpit for a distant or 4K screen; `?rotate=SECONDS`
   cycles through the cockpit and the audit pages with a visible countdown; `?reload=HOURS` (default 6)
   reloads the page fully to clear the browser's memory. The query string (scale, rotate, reload) is carried
   from page to page, so one URL sets up the TV. */
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var KEEP = ["scale", "rotate", "reload"];
  var STORE = "heartbeat.rotation";

  function num(name, low, high, fallback) {
    var v = parseFloat(params.get(name) || "");
    return isFinite(v) ? Math.min(high, Math.max(low, v)) : fallback;
  }

  var scale = num("scale", 0.5, 3, 1);
  if (scale !== 1) { document.documentElement.style.setProperty("--scale", String(scale)); }

  function carried() {
    var out = new URLSearchParams();
    KEEP.forEach(function (k) { if (params.has(k)) { out.set(k, params.get(k)); } });
    var q = out.toString();
    return q ? "?" + q : "";
  }

  // a full reload every few hours: long-running browsers on TVs leak memory
  var reloadH = num("reload", 0.05, 72, 6);
  setTimeout(function () { window.location.reload(); }, reloadH * 3600 * 1000);

  var rotateS = num("rotate", 0, 3600, 0);
  if (!rotateS) { return; }
  rotateS = Math.max(rotateS, 5);

  function pagesKnown() {
    var list = ["/", "/audit"];
    try { list = JSON.parse(window.sessionStorage.getItem(STORE) || "null") || list; } catch (e) { /* private mode */ }
    // the audit index names the audit pages: learn them when we are on it
    var links = document.querySelectorAll("a[href^='/audit/']");
    if (window.location.pathname === "/audit" && links.length) {
      var seen = {};
      list = ["/", "/audit"];
      links.forEach(function (a) {
        var path = a.getAttribute("href").split(/[?#]/)[0];
        if (!seen[path]) { seen[path] = true; list.push(path); }
      });
      try { window.sessionStorage.setItem(STORE, JSON.stringify(list)); } catch (e) { /* private mode */ }
    }
    return list;
  }

  var list = pagesKnown();
  var here = list.indexOf(window.location.pathname);
  var next = list[(here + 1) % list.length] || "/";
  var label = next === "/" ? "cockpit" : next === "/audit" ? "audit" : next.replace("/audit/", "audit · ");
  var badge = document.createElement("div");
  badge.className = "rotation";
  badge.setAttribute("data-next", next);
  document.body.appendChild(badge);
  var left = Math.round(rotateS);
  function show() { badge.textContent = "next: " + label + " in " + left + " s"; }
  show();
  setInterval(function () {
    left -= 1;
    if (left <= 0) { window.location.href = next + carried(); return; }
    show();
  }, 1000);
})();
