/* Metric page: owner, verification and line edits through the REST API with the pasted bearer token
   (kept in this browser's localStorage only). Results show inline beside the button. */
(function () {
  "use strict";
  var box = document.querySelector(".controls");
  if (!box) { return; }
  var id = box.getAttribute("data-metric");
  var tokenInput = box.querySelector("input[name=token]");
  var KEY = "heartbeat.token";
  try { tokenInput.value = window.localStorage.getItem(KEY) || ""; } catch (e) { /* private mode */ }
  tokenInput.addEventListener("change", function () {
    try { window.localStorage.setItem(KEY, tokenInput.value); } catch (e) { /* private mode */ }
  });

  function send(method, url, payload, out) {
    var headers = { "Content-Type": "application/json" };
    if (tokenInput.value) { headers.Authorization = "Bearer " + tokenInput.value; }
    out.className = ""; out.textContent = "saving…";
    return fetch(url, { method: method, headers: headers, body: JSON.stringify(payload) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) { throw new Error(data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : "HTTP " + r.status); }
          out.className = "ok"; out.textContent = "saved";
          return data;
        });
      })
      .catch(function (err) { out.className = "err"; out.textContent = err.message; });
  }

  box.querySelectorAll("form[data-patch]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var kind = form.getAttribute("data-patch");
      var payload = {};
      form.querySelectorAll("input, select").forEach(function (el) {
        var v = el.value.trim();
        if (kind === "thresholds") {
          payload[el.name] = v === "" ? null : (el.type === "number" ? Number(v) : v);
        } else {
          payload[el.name] = v === "" ? null : v;
        }
      });
      send("PATCH", "/api/metrics/" + encodeURIComponent(id) + "/" + kind, payload, form.querySelector("output"));
    });
  });

  var ack = box.querySelector("form[data-ack]");
  if (ack) {
    ack.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = ack.elements;
      var until = f.until.value ? f.until.value + "T23:59:59Z" : null;
      var payload = { subject: f.subject.value, by: f.by.value.trim() || null, note: f.note.value.trim() || null,
                      until: until, lift: f.lift.checked };
      send("POST", "/api/acknowledgements", payload, ack.querySelector("output")).then(function (data) {
        if (data && data.subject) { ack.querySelector("output").textContent = data.acknowledged ? "acknowledged" : "lifted"; }
      });
    });
  }

  var re = box.querySelector("form[data-recompute]");
  if (re) {
    re.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var out = re.querySelector("output");
      send("POST", "/api/metrics/recompute", { metric_ids: [id] }, out).then(function (data) {
        if (data && data.job_id) { out.textContent = "job " + data.job_id + (data.coalesced ? " (joined the running job)" : " started"); }
      });
    });
  }
})();
