// Import and export pages: the status panel polls itself while a file is checked, committed, reverted or
// written (hx-trigger "every 1s").
// Loaded as a file (CSP forbids inline script).
(function () {
  function isPanel(elt) {
    return elt && (elt.id === "import-status" || elt.id === "export-status") && elt.hasAttribute("data-polling");
  }

  // A failed poll must not repeat its error every second: app.js shows the error once, then the
  // panel is replaced by a copy without the polling attributes, which ends htmx's timer.
  document.addEventListener("htmx:responseError", function (event) {
    var panel = event.detail.elt;
    if (!isPanel(panel)) return;
    var still = panel.cloneNode(true);
    ["hx-get", "hx-trigger", "hx-swap", "data-polling"].forEach(function (name) { still.removeAttribute(name); });
    panel.replaceWith(still);
  });

  // A session that ended while the page was open answers with the sign-in page: show it as a page,
  // not inside the panel.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isPanel(event.detail.elt)) return;
    var xhr = event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });
})();
