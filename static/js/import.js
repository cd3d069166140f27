// A running CSV import: post its step form again and again, each post creating the next
// chunk, and show the count; at the end, reload to show the result. Without script, the
// form's Continue button does one step at a time.
"use strict";

(function () {
  const form = document.querySelector("form[data-import-step]");
  const bar = document.querySelector("[data-import-progress]");
  const label = document.querySelector("[data-import-label]");
  if (!form || !bar || !label) {
    return;
  }

  async function step() {
    let state;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) {
        throw new Error(`status ${response.status}`);
      }
      state = await response.json();
    } catch {
      label.textContent = "The connection failed; press Continue to go on.";
      form.querySelector("button").hidden = false;
      return;
    }
    bar.max = state.total;
    bar.value = state.created;
    label.textContent = `${state.created.toLocaleString()} of ${state.total.toLocaleString()} created`;
    if (state.state === "running") {
      step();
    } else {
      window.location.reload();
    }
  }

  form.querySelector("button").hidden = true;
  step();
})();
