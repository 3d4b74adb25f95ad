// Shared by the live scripts (app/build.rs puts it inside each one's function).
// Asks `url` again and again: after `every` ms, doubled after each failure up to a minute, plus
// a random second, so a crowd of phones turned away does not come back all at once. `got` is
// given each answer's JSON and returns true to stop asking. It never gives up.
function poll(url, every, got) {
  var fails = 0;
  function ask() {
    setTimeout(function () {
      fetch(url, { cache: 'no-store' }).then(function (r) {
        if (!r.ok) throw r.status;
        return r.json();
      }).then(function (answer) {
        fails = 0;
        if (!got(answer)) ask();
      }, function () {
        fails++;
        ask();
      });
    }, Math.min(60000, every * Math.pow(2, fails)) + Math.random() * 1000);
  }
  ask();
}
