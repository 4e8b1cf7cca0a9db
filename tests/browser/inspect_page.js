// What a page shows, read in the browser by tests/browser/test_every_page.py:
// the text a reader sees, the attribute text read aloud or shown on hover, and
// how wide the page is (with the elements that stick out). With `hideVerbatim`,
// what is marked translate="no" (data shown as it is) is left out of the text.
(hideVerbatim) => {
  const verbatim = hideVerbatim ? [...document.querySelectorAll("[translate=no]")] : [];
  const inVerbatim = (el) => verbatim.some((v) => v.contains(el));
  const attrs = [];
  const add = (el, what, value) => {
    if (value && value.trim() && !inVerbatim(el)) {
      attrs.push(`${what} « ${value.trim()} » (${el.tagName.toLowerCase()})`);
    }
  };
  const named = "[title], [placeholder], [aria-label], [alt], [aria-description]";
  for (const el of document.querySelectorAll(named)) {
    for (const name of ["title", "placeholder", "aria-label", "alt", "aria-description"]) {
      add(el, name, el.getAttribute(name));
    }
  }
  const buttons = "input[type=submit], input[type=button], input[type=reset]";
  for (const el of document.querySelectorAll(buttons)) add(el, "value", el.value);
  for (const el of document.querySelectorAll("option")) add(el, "option", el.textContent);
  for (const el of document.querySelectorAll("svg title, svg desc")) {
    add(el, "svg", el.textContent);
  }
  const width = window.innerWidth;
  // The elements that stick out, outside any container that scrolls or clips.
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const describe = (el) => {
    const classes = typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\s+/).join(".")
      : "";
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1 && !clipped(el)) {
      const parent = el.parentElement;
      const parentWide = parent && parent.getBoundingClientRect().right > width + 1;
      if (!parentWide) {
        const text = (el.innerText || "").trim().slice(0, 60);
        wide.push(`${describe(el)} (${Math.round(box.right)} px): ${text}`);
      }
    }
  }
  const hidden = verbatim.map((el) => [el, el.style.visibility]);
  for (const [el] of hidden) el.style.visibility = "hidden";
  const text = document.body.innerText;
  for (const [el, before] of hidden) el.style.visibility = before;
  return {
    title: document.title,
    text,
    attrs,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    wide: wide.slice(0, 8),
  };
}
