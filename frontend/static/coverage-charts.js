/* Bar charts of the coverage pages, drawn with Chart.js (window.Chart, /static/vendor/chart.umd.min.js).
 *
 * Each <canvas data-chart-source="ID"> names a <script type="application/json" id="ID"> holding
 *   {"currency": "CNY", "labels": ["<=50%", ...], "measure": "Exposure",
 *    "series": [{"label": "Base", "values": ["95305981.55", ...], "loans": [10, ...]}, ...]}
 * Amounts arrive as the server's decimal strings; the bars need numbers, the tooltips show the strings.
 * One series draws plain bars, several draw grouped bars. No inline script: the pages allow none. */
(function () {
  "use strict";

  var COLOURS = ["#1d4e89", "#c2410c", "#1f6f43", "#8a5a00"];

  function grouped(text) {
    var parts = String(text).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  function compact(value) {
    return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(value);
  }

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
        data: series.values.map(Number),
        amounts: series.values,
        loans: series.loans,
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
          legend: { display: datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (item) {
                var set = item.dataset;
                var loans = set.loans ? " (" + set.loans[item.dataIndex] + " loans)" : "";
                return set.label + ": " + grouped(set.amounts[item.dataIndex]) + " " + spec.currency + loans;
              }
            }
          }
        },
        scales: {
          x: { title: { display: true, text: "LTV bucket" } },
          y: {
            beginAtZero: true,
            title: { display: true, text: spec.measure + " (" + spec.currency + ")" },
            ticks: { callback: compact }
          }
        }
      }
    });
  }

  function drawAll(root) {
    var canvases = root.querySelectorAll("canvas[data-chart-source]");
    for (var i = 0; i < canvases.length; i++) {
      draw(canvases[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
})();
