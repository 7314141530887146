// The live dashboard: uPlot charts fed from /console/dashboard.json every 5 seconds.
(function () {
  "use strict";
  var root = document.getElementById("charts");
  if (!root || !window.uPlot) return;
  var params = new URLSearchParams(window.location.search);
  var minutes = params.get("minutes") || "60";
  var palette = ["#0b5cad", "#c2410c", "#15803d", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#a16207"];
  var charts = {};
  var kinds = [
    ["volume", "chart-volume", "trades"],
    ["amount", "chart-amount", "minor units"],
    ["success_rate", "chart-success", "%"],
    ["latency_ms", "chart-latency", "ms"],
  ];

  function draw(kind, el, unit, t, series) {
    var labels = Object.keys(series).sort();
    var key = labels.join("|");
    var data = [t].concat(labels.map(function (l) { return series[l]; }));
    var chart = charts[kind];
    if (chart && chart.key === key) { chart.plot.setData(data); return; }
    if (chart) chart.plot.destroy();
    var width = Math.max(320, el.clientWidth || 520);
    var opts = {
      width: width, height: 220,
      series: [{}].concat(labels.map(function (l, i) {
        return {label: l, stroke: palette[i % palette.length], width: 2, spanGaps: false,
                points: {show: kind !== "volume"}};
      })),
      axes: [{}, {label: unit}],
      scales: kind === "success_rate" ? {x: {time: true}, y: {range: [0, 100]}} : {x: {time: true}},
    };
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", kind + " per pay type: " + (labels.join(", ") || "no data"));
    charts[kind] = {key: key, plot: new uPlot(opts, data, el)};
  }

  function refresh() {
    fetch(root.dataset.source + "?minutes=" + encodeURIComponent(minutes), {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (f) {
        kinds.forEach(function (k) { draw(k[0], document.getElementById(k[1]), k[2], f.t, f[k[0]] || {}); });
        root.dataset.updated = String(Date.now());
      })
      .catch(function () { /* the next round tries again */ });
  }
  refresh();
  setInterval(refresh, 5000);
})();
