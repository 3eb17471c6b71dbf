// Charts drawn from the tables beside them (the table is the data and its accessible form).
// Chart.js (vendor/chartjs) is loaded first; without it, or without script, the table stays.
(function () {
  "use strict";

  function number(value) { return value === "" || value === undefined ? null : Number(value); }

  function trend(canvas) {
    var table = document.getElementById(canvas.getAttribute("data-table"));
    if (!table || !window.Chart) { return; }
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var weeks = rows.map(function (r) { return r.getAttribute("data-week"); });
    function series(name, scale) {
      return rows.map(function (r) {
        var v = number(r.getAttribute("data-" + name));
        return v === null ? null : v * scale;
      });
    }
    // A week without answers has no CES: the line stops there rather than join its neighbours.
    var line = { pointRadius: 3, borderWidth: 2, tension: 0.2, yAxisID: "share", spanGaps: false };
    new window.Chart(canvas, {
      data: {
        labels: weeks,
        datasets: [
          Object.assign({}, line, { type: "line", label: canvas.getAttribute("data-ces-label"), data: series("ces", 100),
            borderColor: "#1d4ed8", backgroundColor: "#1d4ed8", order: 0 }),
          Object.assign({}, line, { type: "line", label: canvas.getAttribute("data-interval-label"), data: series("low", 100),
            borderWidth: 0, pointRadius: 0, fill: false, backgroundColor: "rgba(29, 78, 216, 0.18)", order: 1 }),
          Object.assign({}, line, { type: "line", label: "", data: series("high", 100), borderWidth: 0, pointRadius: 0,
            fill: "-1", backgroundColor: "rgba(29, 78, 216, 0.18)", order: 1 }),
          { type: "bar", label: canvas.getAttribute("data-responses-label"), data: series("responses", 1),
            backgroundColor: "#e4e7eb", yAxisID: "count", order: 2 }
        ]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { filter: function (item) { return item.text !== ""; } } } },
        scales: {
          share: { position: "left", min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } },
          count: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } }
        }
      }
    });
  }

  function start() {
    document.querySelectorAll("canvas[data-table]").forEach(trend);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
