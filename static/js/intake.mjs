// The intake form: drop the scanned letter, preview it, and check the intake
// alerts without leaving the page (so the chosen file stays attached).
// Texts come from the page (data-text-*), already translated by Django.

const form = document.querySelector("form[data-intake-form]");
const input = form?.querySelector("input[type=file][data-dropzone]");
const preview = document.getElementById("scan-preview");
const panel = document.getElementById("intake-check");
let objectUrl = null;

function text(name, value) {
  const template = form.dataset[name] || "";
  return value === undefined ? template : template.replace("{n}", value);
}

function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} o`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} Ko`;
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(".", ",")} Mo`;
}

// The same signatures the server checks (requests_app/validation.py).
async function sniff(file) {
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  const starts = (...bytes) => bytes.every((b, i) => head[i] === b);
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return "pdf";
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (starts(0xff, 0xd8, 0xff)) return "jpeg";
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return "tiff";
  return null;
}

function line(className, content) {
  const p = document.createElement("p");
  p.className = className;
  p.textContent = content;
  return p;
}

async function renderPdf(file) {
  const pdfjs = await import(form.dataset.pdfjs);
  pdfjs.GlobalWorkerOptions.workerSrc = form.dataset.pdfjsWorker;
  const data = new Uint8Array(await file.arrayBuffer());
  const loading = pdfjs.getDocument({ data, isEvalSupported: false, enableXfa: false });
  const pdf = await loading.promise;
  const page = await pdf.getPage(1);
  const natural = page.getViewport({ scale: 1 });
  const viewport = page.getViewport({ scale: Math.min(1.5, 520 / natural.width) });
  const canvas = document.createElement("canvas");
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", text("textPreview"));
  canvas.className = "scan-page";
  await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport }).promise;
  const pages = pdf.numPages;
  await loading.destroy();
  return { canvas, pages };
}

async function showPreview() {
  if (objectUrl) {
    URL.revokeObjectURL(objectUrl);
    objectUrl = null;
  }
  preview.replaceChildren();
  const file = input.files && input.files[0];
  if (!file) {
    preview.hidden = true;
    return;
  }
  preview.hidden = false;
  const kind = await sniff(file);
  preview.append(line("scan-name", `${file.name} – ${humanSize(file.size)}`));
  const maximum = Number(form.dataset.maxBytes || 0);
  if (maximum && file.size > maximum) {
    preview.append(line("message error", text("textTooBig", humanSize(maximum))));
    return;
  }
  if (kind === null) {
    preview.append(line("message error", text("textUnknown")));
    return;
  }
  if (kind === "tiff") {
    preview.append(line("help", text("textNoPreview")));
    return;
  }
  if (kind === "pdf") {
    try {
      const { canvas, pages } = await renderPdf(file);
      preview.append(line("help", text("textPages", pages)), canvas);
    } catch (error) {
      console.warn("Huis clos: PDF preview failed", error);
      preview.append(line("message error", text("textUnreadable")));
    }
    return;
  }
  objectUrl = URL.createObjectURL(file);
  const image = document.createElement("img");
  image.src = objectUrl;
  image.alt = text("textPreview");
  image.className = "scan-page";
  preview.append(image);
}

function setUpDropzone() {
  const zone = input.closest("div") || input.parentElement;
  zone.classList.add("dropzone");
  zone.append(line("dropzone-hint", text("textDrop")));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  input.addEventListener("change", showPreview);
}

// "Vérifier": post the form to the same address and show the answer's panel,
// without reloading the page.
function setUpCheck() {
  form.querySelectorAll("[data-no-script-help]").forEach((el) => {
    el.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    const submitter = event.submitter;
    if (!submitter || !submitter.hasAttribute("data-intake-check")) {
      return;
    }
    event.preventDefault();
    panel.replaceChildren(line("help", text("textChecking")));
    try {
      const response = await fetch(form.action || window.location.href, {
        method: "POST",
        body: new FormData(form, submitter),
        headers: { "X-Huisclos-Check": "1" },
        credentials: "same-origin",
      });
      if (response.status !== 200 && response.status !== 400) {
        throw new Error(String(response.status));
      }
      panel.innerHTML = await response.text();
    } catch (error) {
      panel.replaceChildren(line("message error", text("textCheckFailed")));
    }
    const heading = panel.querySelector("h2");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  });
}

if (form && input && preview && panel) {
  setUpDropzone();
  setUpCheck();
}
