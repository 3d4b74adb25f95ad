// The control room, live: applies each snapshot the server sends (server-sent events) to the
// page it rendered. Where the page's shape would change (a sale starts, a brake is pulled from
// another phone), it simply reloads. Plain JavaScript, no framework: none of it is in the shop's
// WebAssembly bundle.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var W = 300, H = 80;
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = String(value);
  }
  function burn(svg, points, total) {
    var line = svg && svg.querySelector("polyline");
    if (!line) return;
    var n = Math.max(points.length, 2) - 1, t = Math.max(total, 1);
    line.setAttribute("points", points.map(function (left, i) {
      var y = H - Math.min(Math.max(left / t, 0), 1) * H;
      return (i / n * W).toFixed(1) + "," + y.toFixed(1);
    }).join(" "));
  }
  // how the page writes a wait, in the owner's language ("~# s", "约 # 秒")
  var sales = document.getElementById("sales");
  var etaPattern = (sales && sales.getAttribute("data-eta")) || "~# s";
  function apply(s) {
    var state = document.getElementById("checkout-state");
    var shown = document.querySelectorAll(".live-sale");
    var pausedNow = String(s.checkout_paused);
    var shapeChanged = !state || state.getAttribute("data-paused") !== pausedNow ||
      shown.length !== s.sales.length;
    s.sales.forEach(function (sale, i) {
      var card = shown[i];
      if (!card || card.getAttribute("data-product") !== String(sale.id) ||
          (card.querySelector(".badge-paused") !== null) !== sale.paused) {
        shapeChanged = true;
      }
    });
    var alert = document.getElementById("disk-alert");
    var alertNow = s.writes_failing ? "failing" : s.disk_low ? "low" : "none";
    if (alert && alert.getAttribute("data-alert") !== alertNow) shapeChanged = true;
    if (shapeChanged) { location.reload(); return; }
    text("disk-free", s.disk_free_mib == null ? "—" : s.disk_free_mib + " MiB");
    text("orders-last-minute", s.orders_last_minute);
    text("orders-per-minute", s.orders_per_minute.join(" · "));
    text("queue-waiting", s.queue_waiting);
    text("holds", s.holds_outstanding);
    text("units-held", s.units_held);
    text("p95", s.p95_ms == null ? "—" : Math.round(s.p95_ms) + " ms");
    text("updated-at", s.shown_at);
    s.answers.forEach(function (pair) {
      var cell = document.querySelector('[data-answer="' + pair[0] + '"]');
      if (cell) cell.textContent = String(pair[1]);
    });
    s.sales.forEach(function (sale, i) {
      var card = shown[i];
      ["sold", "left", "held", "waiting"].forEach(function (k) {
        var dd = card.querySelector('[data-k="' + k + '"]');
        if (dd) dd.textContent = String(sale[k]);
      });
      var eta = card.querySelector('[data-k="eta"]');
      if (eta) eta.textContent = sale.eta_secs == null ? "—" : etaPattern.replace("#", sale.eta_secs);
      burn(card.querySelector("svg.burn"), sale.burn, sale.left + sale.sold + sale.held);
    });
    document.body.setAttribute("data-live", "on");
  }
  var source = new EventSource("/admin/live/events");
  source.addEventListener("snapshot", function (e) {
    try { apply(JSON.parse(e.data)); } catch (err) { /* a bad frame: wait for the next */ }
  });
})();
