// Follows the order on the "Order placed" page: polls GET /orders/{id}
// every second, fills the progress bar as the worker makes the tickets
// and says when they were emailed, then stops. Served as a file of its
// own (GET /static/order.js), since the pages' Content-Security-Policy
// runs no inline script.
(function () {
  "use strict";
  var card = document.querySelector("[data-order]");
  if (!card) {
    return;
  }
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress");
  var failed = document.getElementById("progress-failed");

  function tickets(n) {
    return n + (n === 1 ? " ticket" : " tickets");
  }
  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "numeric", minute: "2-digit", second: "2-digit" });
  }
  // show draws the order's status s, the JSON of GET /orders/{id}.
  function show(s) {
    bar.max = Math.max(s.total, 1);
    bar.value = s.done;
    bar.classList.toggle("done", s.dispatched);
    text.classList.toggle("done", s.dispatched);
    if (s.dispatched) {
      text.textContent = "All " + tickets(s.total) + " made; emailed at " + clock(s.dispatched_at) + ".";
    } else if (s.complete) {
      text.textContent = "All " + tickets(s.total) + " made; " +
        (s.stalled ? "not emailed yet: we are on it." : "emailing them now…");
    } else {
      text.textContent = s.done + " of " + tickets(s.total) + " made…";
    }
    failed.hidden = s.failed.length === 0;
    failed.textContent = s.failed.length === 0 ? "" :
      s.failed.length + " could not be made (" + s.failed.map(function (n) { return "ticket " + n; }).join(", ") + "): we are on it.";
  }
  function poll() {
    fetch("/orders/" + encodeURIComponent(card.dataset.order)).then(function (r) {
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
