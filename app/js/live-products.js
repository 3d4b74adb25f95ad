// A product page's or the catalogue's stock badges, live (app::live::LiveUpdates).
// Its facts come from the script tag's data-*. A page is drawn again at most once every 5 s (a
// page cache and a feed that disagree must not make a phone reload without end), later rather
// than never, and not before the catalogue's cache (250 ms) has caught up with the news; never
// while the shopper is typing into a form or has filled one in (it would lose what she typed,
// or cut off her submit: the server's answer to it is the truth anyway).
var src = document.currentScript.dataset.src, es = null;
function typing() {
  var e = document.activeElement;
  if (e && /^(INPUT|TEXTAREA|SELECT)$/.test(e.tagName)) return true;
  var f = document.querySelectorAll('input,textarea');
  for (var i = 0; i < f.length; i++) {
    var x = f[i];
    if (x.type !== 'hidden' && x.value !== x.defaultValue) return true;
  }
  return false;
}
function go() {
  if (typing()) return setTimeout(go, 2000);
  location.reload();
}
function redraw() {
  if (es) { es.close(); es = null; }
  var w = 300;
  try {
    var t = +sessionStorage.getItem('hf-redrawn') || 0, a = Date.now() - t;
    if (a < 5000) w = 5000 - a;
    sessionStorage.setItem('hf-redrawn', String(Date.now() + w));
  } catch (x) {}
  setTimeout(go, w + Math.random() * 1000);
}
// true when the page is to be drawn again
function apply(m) {
  var b = document.getElementById('stock-' + m.id);
  if (!b) return false;
  if (b.textContent !== m.badge) b.textContent = m.badge;
  b.className = m.class;
  if (b.getAttribute('data-look') !== m.look) { redraw(); return true; }
  return false;
}
function asking() {
  poll(src + '&poll=1', 3000, function (l) {
    for (var i = 0; i < l.length; i++) if (apply(l[i])) return true;
    return false;
  });
}
if (!window.EventSource) return asking();
es = new EventSource(src);
es.addEventListener('stock', function (e) {
  try { apply(JSON.parse(e.data)); } catch (x) {}
});
es.onerror = function () {
  if (es && es.readyState === 2) { es = null; asking(); }
};
