// A waiting shopper's page, live (app::live::LineLive): the place in line in the tab's title at
// once, in the page by its island (data-hf-place, the hf-place event), or by this script when the
// island has not woken 15 s after the page came; at the turn the page loads again (at most one
// reload per 3 s). While the stream is open the page is marked data-hf-line="open".
var src = document.currentScript.dataset.src, b = document.documentElement,
  title = document.title, t0 = Date.now(), es;
if (!window.EventSource) return;
function again() {
  try {
    var t = +sessionStorage.getItem('hf-turn') || 0;
    if (Date.now() - t < 3000) return;
    sessionStorage.setItem('hf-turn', String(Date.now()));
  } catch (x) {}
  location.reload();
}
es = new EventSource(src);
es.onopen = function () { b.setAttribute('data-hf-line', 'open'); };
es.addEventListener('place', function (e) {
  try {
    var m = JSON.parse(e.data), p = m.position;
    document.title = '#' + p + ' \u00b7 ' + title;
    b.setAttribute('data-hf-place', e.data);
    dispatchEvent(new Event('hf-place'));
    if (b.hasAttribute('data-hydrated')) return;
    var n = document.querySelector('[data-testid=position]'),
      t = document.querySelector('[data-testid=eta]');
    if (Date.now() - t0 < 15000) return;
    if (!n) return again();
    if (n.textContent !== String(p)) n.textContent = p;
    if (t && m.eta && t.textContent !== m.eta) t.textContent = m.eta;
  } catch (x) {}
});
es.addEventListener('turn', function () {
  es.close();
  b.removeAttribute('data-hf-line');
  again();
});
es.onerror = function () { b.removeAttribute('data-hf-line'); };
