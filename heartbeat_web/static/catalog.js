// The catalog's filter: hides entries whose text does not hold every word typed (client-side, no requests).
(function () {
  "use strict";
  var box = document.getElementById("catalog-filter");
  var count = document.getElementById("catalog-count");
  var entries = Array.prototype.slice.call(document.querySelectorAll(".catalog-entry"));
  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    entries.forEach(function (e) {
      var text = e.getAttribute("data-search") || "";
      var ok = words.every(function (w) { return text.indexOf(w) !== -1; });
      e.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = words.length ? shown + " of " + entries.length + " shown" : "";
  }
  if (box) { box.addEventListener("input", apply); apply(); }
})();
