/* The portfolio map page: every parcel in view, overlaps red, a line saying how many are drawn and whether the
 * view holds more than one request returns. */
(function () {
  "use strict";

  /* "Go to": the whole book or a saved region, so a book spread over several cities opens on one of them. */
  function goTo(map, el) {
    var form = document.querySelector("[data-map-go-to]");
    var node = document.getElementById("saved-regions");
    if (!form || !node) {
      return;
    }
    var shapes = JSON.parse(node.textContent);
    var select = form.querySelector("select");
    form.hidden = false;
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    select.addEventListener("change", function () {
      var shape = shapes[select.value];
      if (shape) {
        map.fitBounds(window.L.geoJSON(shape).getBounds());
      } else {
        var v = el.getAttribute("data-extent").split(",").map(Number);
        map.fitBounds([[v[1], v[0]], [v[3], v[2]]], { padding: [8, 8] });
      }
    });
  }

  function start() {
    var el = document.querySelector("[data-testid='portfolio-map']");
    var status = document.querySelector("[data-testid='map-status']");
    if (!el || !window.L || !window.ParcelMaps) {
      return;
    }
    var map = window.ParcelMaps.create(el);
    goTo(map, el);
    window.ParcelMaps.parcelLayer(map, el, {
      interactive: true,
      onLoad: function (data) {
        var flagged = data.features.filter(function (f) { return f.properties.possible_double_pledge; }).length;
        var shown = data.features.length.toLocaleString("en");
        var line = data.truncated
          ? "Showing " + shown + " of the " + data.total.toLocaleString("en") + " parcels in view (the most one view draws): zoom in to see the rest."
          : "Showing all " + shown + " parcel" + (data.features.length === 1 ? "" : "s") + " in view.";
        if (flagged) {
          line += " " + flagged + " flagged possible double pledge (red).";
        }
        status.textContent = line;
      },
      onError: function (code) {
        status.textContent = "The parcels could not be loaded (" + code + "). Reload the page to try again.";
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
