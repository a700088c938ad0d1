// The badge class form (admin/badge_form.html). Without this script every row button submits the form
// (form_action) and the server answers with the change made; with it the same buttons act in the page
// and the descriptor search asks the console's JSON endpoint. Served from 'self' (strict CSP).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("#badge-form");
  if (!form) return;
  const t = form.dataset;

  // ---- rows: add from a <template>, remove the row ------------------------------------------------
  const nextIndex = (container) => {
    let max = -1;
    container.querySelectorAll(":scope > [data-row]").forEach((row) => { max = Math.max(max, Number(row.dataset.index)); });
    return max + 1;
  };
  const renumber = (container) => {
    container.querySelectorAll(":scope > [data-row]").forEach((row, n) => {
      const legend = row.querySelector("legend");
      if (legend && legend.dataset.label) legend.textContent = legend.dataset.label.replace("__n__", String(n + 1));
    });
  };
  const addRow = (kind) => {
    const container = form.querySelector(`[data-rows="${kind}"]`);
    const template = form.querySelector(`#tpl-${kind}`);
    if (!container || !template) return;
    const index = String(nextIndex(container));
    const html = template.innerHTML.replaceAll("__i__", index);
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const row = holder.firstElementChild;
    const legend = row.querySelector("legend");
    if (legend) { legend.dataset.label = legend.textContent; }
    container.appendChild(row);
    renumber(container);
    const first = row.querySelector("input, textarea, select");
    if (first) first.focus();
  };
  form.querySelectorAll("[data-rows]").forEach((container) => {
    // remember each legend's wording with a placeholder for the number, so rows renumber after changes
    const template = form.querySelector(`#tpl-${container.dataset.rows}`);
    const sample = template && template.content.querySelector("legend");
    container.querySelectorAll(":scope > [data-row] > legend").forEach((legend) => {
      if (sample) legend.dataset.label = sample.textContent;
    });
  });

  // ---- descriptors: search, pick, drop ------------------------------------------------------------
  const chipFor = (index, item) => {
    const li = document.createElement("li");
    li.className = "chip";
    li.dataset.ref = item.ref;
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = `outcome-${index}-descriptor`;
    hidden.value = item.ref;
    const text = document.createElement("span");
    const code = document.createElement("strong");
    code.textContent = item.code;
    const fw = document.createElement("small");
    fw.className = "muted";
    fw.textContent = item.framework;
    text.append(code, ` ${item.label} `, fw);
    const remove = document.createElement("button");
    remove.type = "submit";
    remove.name = "form_action";
    remove.value = `unpick:${index}:${item.ref}`;
    remove.formNoValidate = true;
    remove.className = "link";
    const hiddenLabel = document.createElement("span");
    hiddenLabel.className = "visually-hidden";
    hiddenLabel.textContent = ` ${item.label}`;
    remove.append(t.i18nRemove, hiddenLabel);
    li.append(hidden, text, " ", remove);
    return li;
  };
  const pick = (index, item) => {
    const chips = form.querySelector(`#outcome-${index}-chips`);
    const results = form.querySelector(`#outcome-${index}-results`);
    if (!chips) return;
    if (!chips.querySelector(`li[data-ref="${CSS.escape(item.ref)}"]`)) chips.appendChild(chipFor(index, item));
    if (results) {
      results.replaceChildren();
      const note = document.createElement("p");
      note.textContent = `${t.i18nAdded} ${item.code} ${item.label}`;
      results.appendChild(note);
    }
    const q = form.querySelector(`#outcome-${index}-q`);
    if (q) q.focus();
  };
  const showResults = (index, items) => {
    const results = form.querySelector(`#outcome-${index}-results`);
    if (!results) return;
    results.replaceChildren();
    if (!items.length) {
      const none = document.createElement("p");
      none.textContent = t.i18nNone;
      results.appendChild(none);
      return;
    }
    const list = document.createElement("ul");
    items.forEach((item) => {
      const li = document.createElement("li");
      const add = document.createElement("button");
      add.type = "button";
      add.className = "secondary";
      add.dataset.pick = item.ref;
      const hiddenLabel = document.createElement("span");
      hiddenLabel.className = "visually-hidden";
      hiddenLabel.textContent = ` ${item.label}`;
      add.append(t.i18nAdd, hiddenLabel);
      add.addEventListener("click", () => pick(index, item));
      const code = document.createElement("strong");
      code.textContent = item.code;
      const fw = document.createElement("small");
      fw.className = "muted";
      fw.textContent = item.framework;
      li.append(add, " ", code, ` ${item.label} `, fw);
      list.appendChild(li);
    });
    results.appendChild(list);
  };
  const search = async (index) => {
    const q = form.querySelector(`#outcome-${index}-q`);
    if (!q || !q.value.trim()) return;
    const url = `${t.searchUrl}?q=${encodeURIComponent(q.value.trim())}`;
    try {
      const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!res.ok) throw new Error(String(res.status));
      showResults(index, (await res.json()).items || []);
    } catch (err) {
      const results = form.querySelector(`#outcome-${index}-results`);
      if (results) { const p = document.createElement("p"); p.textContent = t.i18nFailed; results.replaceChildren(p); }
    }
  };

  // ---- the row buttons ----------------------------------------------------------------------------
  form.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[name=form_action]");
    if (!button || button.value === "save") return;
    const [verb, ...rest] = button.value.split(":");
    if (verb === "add") {
      ev.preventDefault();
      addRow(rest[0]);
    } else if (verb === "remove") {
      ev.preventDefault();
      const row = button.closest("[data-row]");
      const container = row && row.parentElement;
      if (row) row.remove();
      if (container) {
        renumber(container);
        const add = form.querySelector(`button[name=form_action][value="add:${container.dataset.rows}"]`);
        if (add) add.focus();
      }
    } else if (verb === "search") {
      ev.preventDefault();
      search(rest[0]);
    } else if (verb === "unpick") {
      ev.preventDefault();
      const chip = button.closest(".chip");
      const q = form.querySelector(`#outcome-${rest[0]}-q`);
      if (chip) chip.remove();
      if (q) q.focus();
    }
    // "pick" buttons come only from a search the server made (no script then): the server adds the chip
  });
  // Enter in a search box searches instead of saving the form.
  form.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" || !ev.target.matches("input[type=search]")) return;
    ev.preventDefault();
    const box = ev.target.closest("[data-search]");
    if (box) search(box.dataset.search);
  });

  // ---- micro-credential elements shown only when the box is ticked ------------------------------
  const micro = form.querySelector("#micro_credential");
  const fields = form.querySelector("[data-micro-fields]");
  if (micro && fields) {
    const sync = () => { fields.hidden = !micro.checked; };
    micro.addEventListener("change", sync);
    sync();
  }
});
