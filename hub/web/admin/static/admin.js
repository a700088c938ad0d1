// Small progressive enhancements for the console (served from 'self' to satisfy the CSP).

// Send a form once. A double click (or Enter pressed twice) while the next page loads would POST it
// again and, e.g., create two issuers. The first submit marks the form and a later one is cancelled;
// its submit buttons are disabled too, but only after this event, once the browser has collected the
// form's data (a button disabled now would leave its name=value out, e.g. action=delete). Listening on
// the document runs after the forms' own handlers, so a submit cancelled there (data-confirm) counts
// as none. GET forms (filters) may be sent again.
document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (ev.defaultPrevented || !(form instanceof HTMLFormElement) || form.method !== "post") return;
  if (form.dataset.submitted) { ev.preventDefault(); return; }
  form.dataset.submitted = "1";
  setTimeout(() => {
    Array.from(form.elements).filter((el) => el.type === "submit" && !el.disabled).forEach((el) => {
      el.disabled = true;
      el.dataset.submitLocked = "1";
    });
  }, 0);
});
// A page shown again from the back-forward cache gets its forms back.
window.addEventListener("pageshow", (ev) => {
  if (!ev.persisted) return;
  document.querySelectorAll("form[data-submitted]").forEach((form) => {
    delete form.dataset.submitted;
    form.querySelectorAll("[data-submit-locked]").forEach((el) => { el.disabled = false; delete el.dataset.submitLocked; });
  });
});

document.addEventListener("DOMContentLoaded", () => {
  // Confirm destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => { if (!window.confirm(form.dataset.confirm)) ev.preventDefault(); });
  });
  // Copy buttons: <button data-copy="#element-id">.
  document.querySelectorAll("button[data-copy]").forEach((btn) => {
    btn.addEventListener("click", () => {
      const el = document.querySelector(btn.dataset.copy);
      if (el && navigator.clipboard) navigator.clipboard.writeText(el.textContent.trim());
    });
  });
  // Image preview before upload.
  document.querySelectorAll("input[type=file][data-preview]").forEach((input) => {
    input.addEventListener("change", () => {
      const img = document.querySelector(input.dataset.preview);
      if (img && input.files[0]) { img.src = URL.createObjectURL(input.files[0]); img.hidden = false; }
    });
  });
  // Select-all checkbox for bulk replay.
  const all = document.querySelector("input[data-select-all]");
  if (all) all.addEventListener("change", () => {
    document.querySelectorAll("input[name=event]").forEach((c) => { c.checked = all.checked; });
  });
  // Bulk job progress bar: poll until the job ends, then reload to show the result.
  const bar = document.querySelector("progress[data-poll]");
  if (bar) {
    const label = document.querySelector("#progress-label");
    // Numbers as the server writes them (Babel groups thousands in Polish too: 5 000).
    const num = new Intl.NumberFormat(document.documentElement.lang || undefined, { useGrouping: "always" });
    const tick = async () => {
      const res = await fetch(bar.dataset.poll, { headers: { Accept: "application/json" } });
      if (!res.ok) return;
      const job = await res.json();
      bar.max = job.total || 1; bar.value = job.done;
      if (label) label.textContent = `${num.format(job.done)} / ${num.format(job.total)}`;
      if (job.status === "done" || job.status === "failed") window.location.reload();
      else setTimeout(tick, 1000);
    };
    tick();
  }
});
