// Huis clos: small enhancements on top of pages that work without script.
// No framework, no inline script (the Content-Security-Policy forbids it).
"use strict";

(function () {
  // A POST form is sent once: a second click, Enter or a double click while the
  // first submission is on its way does nothing. The server also recognises a
  // form posted twice (its one-time token) and does not repeat the step.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
      return;
    }
    if (event.defaultPrevented) {
      return;
    }
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    form.setAttribute("aria-busy", "true");
    // Disabled only after this event, so the clicked button's name and value
    // still travel with the form.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
        b.disabled = true;
      });
    }, 0);
  });

  // Coming back with the browser's Back button shows the page as it was left:
  // make its forms usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
        b.disabled = false;
      });
    });
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof Element && target.closest("[data-print]")) {
      window.print();
    }
  });

  // Search filters (the register, the audit log) fold away on a phone: open
  // on a wide screen, closed on a narrow one unless they show an error.
  // Without script they stay open.
  var narrow = window.matchMedia("(max-width: 48rem)");
  function foldFilters() {
    document.querySelectorAll("details.filters-fold").forEach(function (details) {
      if (!narrow.matches) {
        details.open = true;
      } else if (!details.querySelector(".errorlist, [role=alert]")) {
        details.open = false;
      }
    });
  }
  foldFilters();
  narrow.addEventListener("change", foldFilters);
})();
