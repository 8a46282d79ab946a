// The panel's only script (the page's CSP allows no inline code): a copy
// button for a password shown once, and a delete button that waits for
// the mailbox's name. Everything works without it; the server checks
// the typed name again.
"use strict";

function selectText(element) {
  var range = document.createRange();
  range.selectNodeContents(element);
  var selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var fallback = function () {
        selectText(target);
        button.textContent = "Selected: press Ctrl+C";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.textContent).then(function () {
          button.textContent = "Copied";
        }, fallback);
      } else {
        fallback();
      }
    });
  });

  document.querySelectorAll("input[data-confirm]").forEach(function (input) {
    var button = input.form && input.form.querySelector("[data-confirm-button]");
    if (!button) { return; }
    var want = input.getAttribute("data-confirm").toLowerCase();
    var sync = function () {
      button.disabled = input.value.trim().toLowerCase() !== want;
    };
    input.addEventListener("input", sync);
    sync();
  });
});
