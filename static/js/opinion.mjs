// The opinion form: ticking a basis shows its conditions at once, each item's
// "basis that allows it" lists the ticked bases, the DG's legal analysis shows
// when an item rests on a contested basis, and the points of attention are
// asked again from the server (debounced) as the referent ticks and fills.
// Without script, the "Show the conditions…" button does the same by
// reloading the page. Texts come from the page (data-text-*).

const form = document.querySelector("form[data-opinion-form]");
const panel = document.getElementById("opinion-flags");
const DELAY_MS = 400;
let timer = null;
let sequence = 0;

function ticked() {
  return [...form.querySelectorAll("input[name=legal_bases]:checked")].map((box) => ({
    pk: box.value,
    title: box.dataset.basisTitle || box.value,
    contested: box.hasAttribute("data-contested"),
  }));
}

function fillSelect(select, bases) {
  const current = select.value;
  const choose = document.createElement("option");
  choose.value = "";
  choose.textContent = form.dataset.textChoose || "—";
  const options = [choose];
  for (const basis of bases) {
    const option = document.createElement("option");
    option.value = basis.pk;
    option.textContent = basis.title;
    options.push(option);
  }
  select.replaceChildren(...options);
  select.value = bases.some((b) => b.pk === current) ? current : "";
}

function itemSelects() {
  return [...form.querySelectorAll("[data-formset-forms] select[data-item-basis]")];
}

function showAnalysis() {
  const wrapper = form.querySelector("[data-legal-analysis]");
  if (!wrapper) return;
  const contested = new Set(ticked().filter((b) => b.contested).map((b) => b.pk));
  wrapper.hidden = !itemSelects().some((s) => contested.has(s.value));
}

function showConditions() {
  const bases = ticked();
  const chosen = new Set(bases.map((b) => b.pk));
  form.querySelectorAll("[data-checklist-for]").forEach((section) => {
    const active = chosen.has(section.dataset.checklistFor);
    section.hidden = !active;
    section.disabled = !active;
  });
  const empty = form.querySelector("[data-checklist-empty]");
  if (empty) empty.hidden = bases.length > 0;
  itemSelects().forEach((select) => fillSelect(select, bases));
  showAnalysis();
}

function status(message) {
  const line = form.querySelector("[data-flags-status]");
  if (line) line.textContent = message;
}

async function refreshFlags() {
  const mine = ++sequence;
  try {
    const response = await fetch(form.dataset.flagsUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    });
    if (!response.ok) throw new Error(String(response.status));
    const html = await response.text();
    if (mine !== sequence) return;
    panel.innerHTML = html;
    const all = panel.querySelectorAll(".flag").length;
    const blocking = panel.querySelectorAll(".flag-blocking").length;
    status(
      all
        ? (form.dataset.textFlags || "").replace("{n}", all).replace("{b}", blocking)
        : form.dataset.textNoFlags || "",
    );
  } catch (error) {
    if (mine === sequence) status(form.dataset.textFlagsFailed || "");
  }
}

function scheduleFlags() {
  window.clearTimeout(timer);
  timer = window.setTimeout(refreshFlags, DELAY_MS);
}

const ITEM_FIELD = /^items-\d+-(data_category|basis|description|necessity)$/;

if (form && panel) {
  form.querySelectorAll("[data-no-script]").forEach((el) => {
    el.hidden = true;
  });
  showConditions();
  form.addEventListener("change", (event) => {
    const name = event.target.name || "";
    if (name === "legal_bases") {
      showConditions();
      scheduleFlags();
    } else if (name === "proposal" || ITEM_FIELD.test(name)) {
      showAnalysis();
      scheduleFlags();
    }
  });
  form.addEventListener("input", (event) => {
    if (/^items-\d+-description$/.test(event.target.name || "")) scheduleFlags();
  });
  form.addEventListener("formset:changed", (event) => {
    const added = event.detail && event.detail.added;
    const select = added && added.querySelector("select[data-item-basis]");
    if (select) fillSelect(select, ticked());
    showAnalysis();
    scheduleFlags();
  });
}
