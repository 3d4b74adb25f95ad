// An order's page, live (app::live::OrderLive): when the owner changes the order (paid, shipped
// with its tracking number, cancelled) the page loads again and shows it. Without EventSource,
// or turned away, it asks every 10 s (poll.js).
var d = document.currentScript.dataset, src = d.src, mine = d.look, es = null;
function seen(l) {
  if (!l || l === mine) return;
  if (es) { es.close(); es = null; }
  setTimeout(function () { location.reload(); }, Math.random() * 500);
}
function asking() {
  poll(src + '&poll=1', 10000, function (m) { seen(m.look); return false; });
}
if (!window.EventSource) return asking();
es = new EventSource(src);
es.addEventListener('order', function (e) {
  try { seen(JSON.parse(e.data).look); } catch (x) {}
});
es.onerror = function () {
  if (es && es.readyState === 2) { es = null; asking(); }
};
