// Draws the dashboard's spend/requests chart from the JSON the page embeds (uPlot).
(function () {
  var holder = document.getElementById("chart");
  var source = document.getElementById("chart-data");
  if (!holder || !source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent);
  var usd = function (u, v) {
    if (v == null) return "";
    if (v === 0) return "$0";
    return "$" + (Math.abs(v) >= 1 ? v.toFixed(2) : Number(v.toPrecision(2)).toString());
  };
  var opts = {
    width: holder.clientWidth || 800,
    height: 240,
    series: [
      {},
      { label: "Spend (USD)", stroke: "#2563eb", fill: "rgba(37,99,235,0.08)", width: 2, scale: "usd", value: usd },
      { label: "Requests", stroke: "#16a34a", width: 2, scale: "req" },
    ],
    axes: [
      {},
      { scale: "usd", values: function (u, vals) { return vals.map(function (v) { return usd(u, v); }); }, size: 70 },
      { scale: "req", side: 1, grid: { show: false } },
    ],
    scales: { x: { time: true } },
  };
  var plot = new uPlot(opts, [data.days, data.spend, data.requests], holder);
  window.addEventListener("resize", function () { plot.setSize({ width: holder.clientWidth, height: 240 }); });
})();
