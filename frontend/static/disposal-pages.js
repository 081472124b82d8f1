/* The disposal pages' small scripts (no inline script: the pages allow none).
 *
 * - A button with [data-print] prints the page (the settlement statement).
 * - Each <canvas data-chart-source="ID"> on the metrics page is drawn with Chart.js (window.Chart) from
 *   <script type="application/json" id="ID">:
 *     {"labels": ["real_estate", ...], "unit": "%",
 *      "series": [{"label": "Recovery rate", "values": ["85.26", null, ...]}, ...]}
 *   Values are the server's exact decimal strings in percentage points; null draws no bar. */
(function () {
  "use strict";

  var COLOURS = ["#1d4e89", "#c2410c", "#1f6f43", "#8a5a00"];

  function draw(canvas) {
    if (typeof window.Chart === "undefined" || window.Chart.getChart(canvas)) {
      return;
    }
    var source = document.getElementById(canvas.getAttribute("data-chart-source"));
    if (!source) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var datasets = spec.series.map(function (series, i) {
      return {
        label: series.label,
        data: series.values.map(function (v) { return v === null ? null : Number(v); }),
        texts: series.values,
        backgroundColor: COLOURS[i % COLOURS.length],
        borderWidth: 0
      };
    });
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: true, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                var text = item.dataset.texts[item.dataIndex];
                return item.dataset.label + ": " + (text === null ? "no settled case" : text + spec.unit);
              }
            }
          }
        },
        scales: {
          y: {
            beginAtZero: true,
            title: { display: true, text: "Percent" },
            ticks: { callback: function (value) { return value + spec.unit; } }
          }
        }
      }
    });
  }

  function start() {
    var canvases = document.querySelectorAll("canvas[data-chart-source]");
    for (var i = 0; i < canvases.length; i++) {
      draw(canvases[i]);
    }
    var printers = document.querySelectorAll("[data-print]");
    for (var j = 0; j < printers.length; j++) {
      printers[j].addEventListener("click", function () { window.print(); });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
