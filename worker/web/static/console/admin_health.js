// The admin health page's small charts: webhooks per hour, drawn from the table beside each one
// (the table is the data and its accessible form). Without Chart.js or script, the table stays.
(function () {
  "use strict";

  function bars(canvas) {
    var table = document.getElementById(canvas.getAttribute("data-bars"));
    if (!table || !window.Chart) { return; }
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.getAttribute("data-label"); }),
        datasets: [{ label: canvas.getAttribute("data-label"), backgroundColor: "#1d4ed8",
          data: rows.map(function (r) { return Number(r.getAttribute("data-value")); }) }]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 8 } } }
      }
    });
  }

  function start() { document.querySelectorAll("canvas[data-bars]").forEach(bars); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
