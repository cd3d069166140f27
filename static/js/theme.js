// Bootstrap's colour mode follows the browser's: dark when it prefers dark, and again
// when that changes. Loaded in <head>, before the body is drawn, so no light flash; a
// file, not an inline script, which the Content-Security-Policy forbids.
"use strict";

(function () {
  const dark = window.matchMedia("(prefers-color-scheme: dark)");

  function apply() {
    document.documentElement.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  }

  apply();
  dark.addEventListener("change", apply);
})();
