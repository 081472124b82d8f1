/* The asset page's chart of approved market values over time, drawn with Chart.js (window.Chart).
 *
 * <canvas data-value-chart="ID"> names a <script type="application/json" id="ID"> holding
 *   {"labels": ["2025-03-01", ...], "values": ["1250000.00", ...], "currency": "CNY"}
 * Values arrive as the server's decimal strings; the line needs numbers, the tooltips show the strings.
 * No inline script: the pages allow none. */
(function () {
  "use strict";

  function grouped(text) {
    var parts = String(text).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-value-chart"));
    if (!source || typeof window.Chart === "undefined" || window.Chart.getChart(canvas)) {
      return;
    }
    var data = JSON.parse(source.textContent);
    if (!data.labels.length) {
      canvas.closest("figure").hidden = true;
      return;
    }
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [{
          label: "Approved market value (" + data.currency + ")",
          data: data.values.map(Number),
          borderColor: "#1d4e89",
          backgroundColor: "#1d4e89",
          stepped: "before",
          pointRadius: 3
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          tooltip: {
            callbacks: {
              label: function (item) { return grouped(data.values[item.dataIndex]) + " " + data.currency; }
            }
          }
        },
        scales: { y: { beginAtZero: true } }
      }
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-value-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
