// Charts without inline script (CSP): a <canvas data-chart="ID"> is drawn from the JSON in
// <script type="application/json" id="ID"> ({type, labels, datasets, options}) with the vendored
// Chart.js. Runs on page load and after every htmx swap; a canvas is drawn once.
(function () {
  if (window.crmCharts) {
    window.crmCharts.renderAll(document);
    return;
  }
  var palette = ["#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#dc3545", "#20c997", "#ffc107", "#6c757d",
                 "#0dcaf0", "#d63384", "#adb5bd"];

  function draw(canvas) {
    if (canvas.dataset.chartDrawn) return;
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    var multiColour = spec.type === "pie" || spec.type === "doughnut";
    (spec.datasets || []).forEach(function (dataset, index) {
      var colour = multiColour ? palette : palette[index % palette.length];
      if (!dataset.backgroundColor) dataset.backgroundColor = colour;
      if (!dataset.borderColor && !multiColour) dataset.borderColor = colour;
    });
    canvas.dataset.chartDrawn = "1";
    new window.Chart(canvas, {
      type: spec.type || "bar",
      data: {labels: spec.labels || [], datasets: spec.datasets || []},
      options: Object.assign({responsive: true, animation: false}, spec.options || {}),
    });
  }

  function renderAll(root, attempt) {
    // Chart.js may still be loading when a swapped-in panel runs this: wait for it a little.
    if (!window.Chart) {
      if ((attempt || 0) < 50) setTimeout(function () { renderAll(root, (attempt || 0) + 1); }, 100);
      return;
    }
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  window.crmCharts = {renderAll: renderAll};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { renderAll(document); });
  } else {
    renderAll(document);
  }
  document.addEventListener("htmx:afterSettle", function (event) { renderAll(event.detail.elt); });
})();
