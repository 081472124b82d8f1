/* The stress form's region picker: each region shock has a map of the parcels (grey, overlaps red) on which a region
 * is drawn by clicking its corners, or a saved region is picked. Either way the region is written into the shock's
 * GeoJSON field (under "Advanced"), which is what the form sends; typing GeoJSON there redraws it on the map. */
(function () {
  "use strict";
  var L = window.L;

  var REGION = { color: "#6a1b9a", weight: 2, fillColor: "#8e24aa", fillOpacity: 0.15, interactive: false };

  function savedShapes() {
    var node = document.getElementById("saved-regions");
    try {
      return node ? JSON.parse(node.textContent) : {};
    } catch (e) {
      return {};
    }
  }

  function round(v) {
    return Math.round(v * 1e6) / 1e6;
  }

  function setup(picker, shapes) {
    var el = picker.querySelector(".region-map");
    var field = picker.querySelector("[data-region-geojson]");
    var saved = picker.querySelector("[data-saved-region]");
    var tools = picker.querySelector("[data-region-tools]");
    var status = picker.querySelector("[data-region-status]");
    var drawBtn = tools.querySelector("[data-draw]");
    var finishBtn = tools.querySelector("[data-finish]");
    var clearBtn = tools.querySelector("[data-clear]");
    el.hidden = false;
    tools.hidden = false;
    var map = window.ParcelMaps.create(el);
    window.ParcelMaps.parcelLayer(map, el, { interactive: false });
    var shown = L.geoJSON(null, { style: function () { return L.extend({ className: "map-region" }, REGION); } }).addTo(map);
    var corners = [];
    var sketch = null;
    var drawing = false;

    function say(text) {
      status.textContent = text;
    }

    function show(geojson, frame) {
      shown.clearLayers();
      if (!geojson) {
        return;
      }
      try {
        shown.addData(geojson);
      } catch (e) {
        return;
      }
      if (frame && shown.getLayers().length) {
        map.fitBounds(shown.getBounds(), { padding: [16, 16] });
      }
    }

    function fromField(frame) {
      var text = field.value.trim();
      if (!text) {
        show(null);
        return;
      }
      try {
        show(JSON.parse(text), frame);
      } catch (e) {
        show(null);
      }
    }

    function redrawSketch() {
      if (sketch) {
        map.removeLayer(sketch);
      }
      sketch = corners.length ? L.polygon(corners, L.extend({ className: "map-sketch", dashArray: "4 4" }, REGION)).addTo(map) : null;
      finishBtn.disabled = corners.length < 3;
    }

    function stopDrawing() {
      drawing = false;
      corners = [];
      redrawSketch();
      el.classList.remove("drawing");
      map.doubleClickZoom.enable();
      drawBtn.disabled = false;
      finishBtn.disabled = true;
    }

    drawBtn.addEventListener("click", function () {
      stopDrawing();
      drawing = true;
      el.classList.add("drawing");
      map.doubleClickZoom.disable();
      drawBtn.disabled = true;
      say("Click each corner of the region on the map, then choose \u201cFinish the region\u201d.");
    });

    map.on("click", function (e) {
      if (!drawing) {
        return;
      }
      corners.push(e.latlng);
      redrawSketch();
      say(corners.length + " corner" + (corners.length === 1 ? "" : "s") +
        (corners.length < 3 ? ": a region needs at least 3." : ". Add more, or finish the region."));
    });

    finishBtn.addEventListener("click", function () {
      if (corners.length < 3) {
        return;
      }
      var ring = corners.map(function (c) { return [round(c.lng), round(c.lat)]; });
      ring.push(ring[0].slice());
      var geojson = { type: "Polygon", coordinates: [ring] };
      var count = corners.length;
      stopDrawing();
      field.value = JSON.stringify(geojson);
      saved.value = "";
      show(geojson, false);
      say("Region drawn with " + count + " corners.");
    });

    clearBtn.addEventListener("click", function () {
      stopDrawing();
      field.value = "";
      saved.value = "";
      show(null);
      say("No region.");
    });

    saved.addEventListener("change", function () {
      stopDrawing();
      var shape = shapes[saved.value];
      field.value = shape ? JSON.stringify(shape) : "";
      show(shape || null, true);
      say(shape ? "Saved region \u201c" + saved.options[saved.selectedIndex].text + "\u201d." : "No region.");
    });

    field.addEventListener("change", function () {
      saved.value = "";
      fromField(true);
    });

    fromField(true);
  }

  function start() {
    if (!L || !window.ParcelMaps) {
      return;
    }
    var shapes = savedShapes();
    var pickers = document.querySelectorAll("[data-region-picker]");
    for (var i = 0; i < pickers.length; i++) {
      setup(pickers[i], shapes);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
