// The scanned letter drawn in the page: each page of the PDF on a canvas, by
// the vendored pdf.js. No plug-in and no frame, so the strict
// Content-Security-Policy (frame-ancestors 'none', object-src 'none') stays as
// it is. Without script, the page offers the scan as a download.
// Texts come from the page (data-text-*), already translated by Django.

const MAX_PAGES = 20;

function say(viewer, name, values = {}) {
  let text = viewer.dataset[name] || "";
  for (const [key, value] of Object.entries(values)) {
    text = text.replace(`{${key}}`, String(value));
  }
  return text;
}

async function drawPage(viewer, pdf, number, width) {
  const page = await pdf.getPage(number);
  const natural = page.getViewport({ scale: 1 });
  // Sharp on high-density screens, never larger than twice the natural size.
  const scale = Math.min(2, (width * (window.devicePixelRatio || 1)) / natural.width);
  const viewport = page.getViewport({ scale });
  const canvas = document.createElement("canvas");
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  canvas.className = "scan-page";
  canvas.setAttribute("role", "img");
  canvas.setAttribute(
    "aria-label",
    say(viewer, "textPage", { n: number, total: pdf.numPages }),
  );
  await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport }).promise;
  return canvas;
}

async function show(viewer) {
  const status = viewer.querySelector("[data-scan-status]");
  const pages = viewer.querySelector("[data-scan-pages]");
  try {
    const pdfjs = await import(viewer.dataset.pdfjs);
    pdfjs.GlobalWorkerOptions.workerSrc = viewer.dataset.pdfjsWorker;
    const response = await fetch(viewer.dataset.src, { credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(String(response.status));
    }
    const data = new Uint8Array(await response.arrayBuffer());
    const loading = pdfjs.getDocument({ data, isEvalSupported: false, enableXfa: false });
    const pdf = await loading.promise;
    pages.hidden = false;
    const width = pages.clientWidth || 520;
    const shown = Math.min(pdf.numPages, MAX_PAGES);
    for (let number = 1; number <= shown; number += 1) {
      pages.append(await drawPage(viewer, pdf, number, width));
    }
    let message = say(viewer, "textPages", { total: pdf.numPages });
    if (shown < pdf.numPages) {
      message += ` ${say(viewer, "textMore", { n: shown })}`;
    }
    status.textContent = message;
    await loading.destroy();
  } catch (error) {
    console.warn("Huis clos: scan preview failed", error);
    pages.hidden = true;
    status.textContent = say(viewer, "textUnreadable");
    status.classList.add("message", "error");
  }
}

document.querySelectorAll("[data-scan-viewer]").forEach((viewer) => {
  show(viewer);
});
