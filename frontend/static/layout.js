// What every page does with script: the header's "Menu" on a phone, and forms that cannot be sent twice.
// Without script the header stays open (the CSS folds it only under html.js) and forms post as usual.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function setUpMenu() {
    var toggle = document.querySelector(".menu-toggle");
    var bar = document.querySelector(".topbar");
    if (!toggle || !bar) return;
    toggle.addEventListener("click", function () {
      var open = bar.classList.toggle("menu-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // A form that writes, or one marked data-busy (a coverage run that takes seconds), is sent once: a second
  // submit while the first is in flight is dropped, and its buttons say "Working…" until the answer arrives.
  // htmx forms are left to htmx (hx-disabled-elt).
  function guarded(form) {
    if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return false;
    return form.method.toLowerCase() === "post" || form.hasAttribute("data-busy");
  }

  function busy(form, submitter) {
    form.setAttribute("aria-busy", "true");
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    if (form.id) {
      buttons = Array.prototype.slice.call(buttons).concat(
        Array.prototype.slice.call(document.querySelectorAll('button[form="' + form.id + '"]'))
      );
    }
    Array.prototype.forEach.call(buttons, function (button) {
      button.dataset.label = button.textContent;
      button.disabled = true;
      if (button === submitter || (!submitter && button.classList.contains("primary"))) {
        button.textContent = "Working…";
      }
    });
  }

  function idle(form) {
    form.removeAttribute("aria-busy");
    delete form.dataset.sending;
    Array.prototype.forEach.call(document.querySelectorAll("button[data-label]"), function (button) {
      button.disabled = false;
      button.textContent = button.dataset.label;
      delete button.dataset.label;
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !guarded(form) || event.defaultPrevented) return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "true";
    var submitter = event.submitter || null;
    // Disabled after this turn: a disabled submitter would leave its name and value (a pager's page) out of the post.
    window.setTimeout(function () { busy(form, submitter); }, 0);
  });

  // A page restored from the back-forward cache comes back as it was left: in flight.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("form[data-sending]"), idle);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpMenu);
  } else {
    setUpMenu();
  }
})();
