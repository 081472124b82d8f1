/* The what-if form: each change row shows only the fields its chosen type uses (the rest stay in the
 * form, hidden, so nothing typed is lost when the type is changed back). Without script every field shows
 * and the server ignores those the type does not use. */
(function () {
  "use strict";

  function sync(select) {
    var row = select.closest("fieldset");
    if (!row) {
      return;
    }
    var chosen = select.value;
    var fields = row.querySelectorAll("[data-types]");
    for (var i = 0; i < fields.length; i++) {
      var types = fields[i].getAttribute("data-types").split(" ");
      var control = fields[i].querySelector("input, select");
      // A field the server complained about, or one typed in before a type was chosen, stays in view.
      var keep = control !== null && (control.getAttribute("aria-invalid") === "true" ||
        (chosen === "" && control.tagName === "INPUT" && control.value !== ""));
      fields[i].hidden = !keep && (chosen === "" || types.indexOf(chosen) < 0);
    }
  }

  function init() {
    var selects = document.querySelectorAll("select[data-change-type]");
    for (var i = 0; i < selects.length; i++) {
      sync(selects[i]);
      selects[i].addEventListener("change", function (event) { sync(event.target); });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
