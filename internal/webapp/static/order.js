// Follows the order on the "Order placed" page: polls GET /orders/{id}
// every second until the tickets are emailed. Served as a file of its own
// (GET /static/order.js), since the pages' Content-Security-Policy runs no
// inline script.
(function () {
  "use strict";
  var el = document.getElementById("progress");
  if (!el) {
    return;
  }
  function show(s) {
    el.textContent = s.done + " of " + s.total + " tickets made" +
      (s.failed.length ? ", " + s.failed.length + " failed (" + s.failed.join(", ") + ")" : "") +
      (s.dispatched ? "; emailed." : s.stalled ? "; not emailed yet: we are on it." : "");
  }
  function poll() {
    fetch("/orders/" + encodeURIComponent(el.dataset.order)).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (s) {
      if (s) {
        show(s);
        if (s.dispatched) {
          return;
        }
      }
      setTimeout(poll, 1000);
    }, function () {
      setTimeout(poll, 2000);
    });
  }
  poll();
})();
