// Row selection for bulk actions: a checkbox marked data-select-all="FORM" ticks every
// row checkbox of that form (form="FORM"), and the action buttons stay disabled while
// nothing is selected. Without JavaScript the rows are still ticked one by one.
"use strict";

(function () {
  function boxes(formId) {
    return Array.from(document.querySelectorAll(`input[type="checkbox"][name="ids"][form="${CSS.escape(formId)}"]`));
  }

  function refresh(formId) {
    const rows = boxes(formId);
    const ticked = rows.filter((box) => box.checked).length;
    for (const all of document.querySelectorAll(`[data-select-all="${CSS.escape(formId)}"]`)) {
      all.checked = ticked > 0 && ticked === rows.length;
      all.indeterminate = ticked > 0 && ticked < rows.length;
    }
    for (const button of document.querySelectorAll(`button[form="${CSS.escape(formId)}"][name="action"]`)) {
      button.disabled = ticked === 0;
    }
    for (const count of document.querySelectorAll(`[data-selected-count="${CSS.escape(formId)}"]`)) {
      count.textContent = ticked === 0 ? "None selected" : `${ticked} selected`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const all of document.querySelectorAll("[data-select-all]")) {
      const formId = all.dataset.selectAll;
      all.addEventListener("change", () => {
        for (const box of boxes(formId)) {
          box.checked = all.checked;
        }
        refresh(formId);
      });
      for (const box of boxes(formId)) {
        box.addEventListener("change", () => refresh(formId));
      }
      refresh(formId);
    }
  });
})();
