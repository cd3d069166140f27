// Copy buttons: <button data-copy-target="ID"> copies the text of the element with id ID
// and reports the outcome in the element marked data-copy-status="ID".
//
// navigator.clipboard exists only in secure contexts, and a browser may refuse it (headless
// ones do without a permission): then the button says so instead of throwing, and the text
// is selected so that Ctrl+C copies it.
"use strict";

(function () {
  function report(target, text) {
    const status = document.querySelector(`[data-copy-status="${CSS.escape(target)}"]`);
    if (status) {
      status.textContent = text;
    }
  }

  function select(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  async function copy(button) {
    const target = button.dataset.copyTarget;
    const source = document.getElementById(target);
    if (!source) {
      return;
    }
    try {
      if (!navigator.clipboard) {
        throw new Error("no clipboard");
      }
      await navigator.clipboard.writeText(source.textContent.trim());
      report(target, "Copied.");
    } catch {
      select(source);
      report(target, "Could not copy: the text is selected, copy it from there.");
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-target]");
    if (button) {
      copy(button);
    }
  });
})();
