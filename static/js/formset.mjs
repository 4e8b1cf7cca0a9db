// Sub-forms added and removed freely (the persons of a request, the items of
// an opinion). Without script the page offers one empty sub-form and the
// server skips those left blank; with it, "Add" clones the page's <template>
// and "Remove" takes a sub-form out, then every sub-form is renumbered so that
// Django reads prefix-0 … prefix-(n-1) and TOTAL_FORMS = n.
// Texts come from the page (data-text-*), already translated by Django.

function textFor(container, name, number) {
  return (container.dataset[name] || "").replace("{n}", String(number));
}

function renumber(container) {
  const prefix = container.dataset.formset;
  const pattern = new RegExp(`(${prefix}-)(\\d+|__prefix__)(-)`, "g");
  const forms = [...container.querySelectorAll("[data-formset-forms] > [data-formset-form]")];
  forms.forEach((form, index) => {
    form.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach((el) => {
      for (const attribute of ["name", "id", "for", "aria-describedby"]) {
        const value = el.getAttribute(attribute);
        if (value) el.setAttribute(attribute, value.replace(pattern, `$1${index}$3`));
      }
    });
    const heading = form.querySelector("[data-formset-heading]");
    if (heading) heading.textContent = textFor(container, "textHeading", index + 1);
    const remove = form.querySelector("[data-formset-remove]");
    if (remove) remove.textContent = textFor(container, "textRemove", index + 1);
  });
  const total = container.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
  const initial = container.querySelector(`input[name="${prefix}-INITIAL_FORMS"]`);
  total.value = String(forms.length);
  if (initial && Number(initial.value) > forms.length) initial.value = String(forms.length);
  const add = container.querySelector("[data-formset-add]");
  const maximum = Number(container.dataset.formsetMax || 1000);
  if (add) add.disabled = forms.length >= maximum;
  return forms;
}

function changed(container, detail) {
  container.dispatchEvent(new CustomEvent("formset:changed", { bubbles: true, detail }));
}

function setUp(container) {
  const list = container.querySelector("[data-formset-forms]");
  const template = container.querySelector("template[data-formset-template]");
  const add = container.querySelector("[data-formset-add]");
  if (!list || !template || !add) return;
  container.querySelectorAll("[data-formset-remove]").forEach((b) => {
    b.hidden = false;
  });
  add.hidden = false;
  renumber(container);

  add.addEventListener("click", () => {
    const form = template.content.firstElementChild.cloneNode(true);
    list.append(form);
    renumber(container);
    changed(container, { added: form });
    const first = form.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  });

  list.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("[data-formset-remove]");
    if (!button) return;
    const form = button.closest("[data-formset-form]");
    const next = form.nextElementSibling || form.previousElementSibling;
    form.remove();
    renumber(container);
    changed(container, { removed: true });
    const target = next ? next.querySelector("[data-formset-heading]") : add;
    if (target === add) {
      add.focus();
    } else if (target) {
      target.tabIndex = -1;
      target.focus();
    }
  });
}

document.querySelectorAll("[data-formset]").forEach(setUp);
