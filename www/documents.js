// The demo's document import: rasterizes the pages of a PDF with pdf.js (one PDFR page each,
// counted as it is rasterized), imports images (one Core page each) and takes camera frames the
// scanner captured (one Webcam page each), and shows every page as a thumbnail. pdf.js, its
// worker and the data it loads on demand are served with the app (vendor/pdfjs/).
import * as pdfjs from 'pdfjs-dist';

/** @import { PageModule } from './pkg/licet.js' */

/**
 * The element of index.html with `id` (the page has every one this module names).
 * @param {string} id
 */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const PDFJS = new URL('./vendor/pdfjs/', import.meta.url);
/** Rasterized at 1.5 × 72 dpi: enough for a page a person can read back. */
const PDF_SCALE = 1.5;

pdfjs.GlobalWorkerOptions.workerSrc = new URL('pdf.worker.min.mjs', PDFJS).href;

/**
 * Wires the documents card. `countPages(module, n)` counts with the license (and rejects with
 * the module's error), `failureText(err)` says an error for a person. Returns
 * `{ enable, addCameraFrame(canvas) }`.
 * @param {object} options
 * @param {(module: PageModule, n: number) => Promise<void>} options.countPages
 * @param {(err: unknown) => string} options.failureText
 */
export function createDocuments({ countPages, failureText }) {
  const pdfInput = /** @type {HTMLInputElement} */ ($('import-pdf'));
  const imageInput = /** @type {HTMLInputElement} */ ($('import-images'));
  const grid = $('pages');

  /** @param {string} text */
  const message = (text, isError = false) => {
    $('documents-message').textContent = text;
    $('documents-message').classList.toggle('error', isError);
  };

  /**
   * Adds a thumbnail (a canvas or an img) with its caption and module to the grid.
   * @param {HTMLCanvasElement | HTMLImageElement} picture
   * @param {string} caption
   * @param {PageModule} module
   */
  function addPage(picture, caption, module) {
    grid.querySelector('.empty')?.remove();
    const li = document.createElement('li');
    li.dataset.module = module;
    const figure = document.createElement('figure');
    const thumb = Object.assign(document.createElement('div'), { className: 'thumb' });
    thumb.append(picture, Object.assign(document.createElement('span'), { className: 'tag', textContent: module.toUpperCase() }));
    const figcaption = Object.assign(document.createElement('figcaption'), { textContent: caption, title: caption });
    figure.append(thumb, figcaption);
    li.append(figure);
    grid.append(li);
  }

  /** @param {File} file */
  async function importPdf(file) {
    message(`Opening ${file.name}…`);
    const pdf = await pdfjs.getDocument({
      data: new Uint8Array(await file.arrayBuffer()),
      cMapUrl: new URL('cmaps/', PDFJS).href,
      cMapPacked: true,
      standardFontDataUrl: new URL('standard_fonts/', PDFJS).href,
      iccUrl: new URL('iccs/', PDFJS).href,
      wasmUrl: new URL('wasm/', PDFJS).href,
    }).promise;
    try {
      for (let number = 1; number <= pdf.numPages; number++) {
        const page = await pdf.getPage(number);
        const viewport = page.getViewport({ scale: PDF_SCALE });
        const canvas = document.createElement('canvas');
        canvas.width = Math.ceil(viewport.width);
        canvas.height = Math.ceil(viewport.height);
        await page.render({ canvas, viewport }).promise;
        // Counted once rasterized: a page that fails to render is not billed.
        await countPages('pdfr', 1);
        addPage(canvas, `${file.name} · p. ${number}`, 'pdfr');
        message(`Rasterized ${number} of ${pdf.numPages} pages of ${file.name}…`);
      }
      message(`Rasterized all ${pdf.numPages} pages of ${file.name}: ${pdf.numPages} PDFR page(s) counted.`);
    } finally {
      await pdf.destroy();
    }
  }

  /** @param {File} file */
  async function importImage(file) {
    const img = new Image();
    img.alt = file.name;
    img.src = URL.createObjectURL(file);
    await img.decode();
    await countPages('core', 1);
    addPage(img, file.name, 'core');
  }

  /**
   * Runs an import with the input disabled, and says how it went.
   * @param {HTMLInputElement} input
   * @param {(file: File) => Promise<void>} run
   */
  function onFiles(input, run) {
    input.addEventListener('change', async () => {
      // An <input type="file"> always has a FileList, empty when nothing was chosen.
      const files = [.../** @type {FileList} */ (input.files)];
      input.value = '';
      input.disabled = true;
      try {
        for (const file of files) await run(file);
      } catch (err) {
        message(`Import stopped: ${failureText(err)}`, true);
      } finally {
        input.disabled = false;
      }
    });
  }

  onFiles(pdfInput, importPdf);
  onFiles(imageInput, async (file) => {
    await importImage(file);
    message(`Imported ${file.name}: 1 Core page counted.`);
  });

  return {
    enable() {
      pdfInput.disabled = false;
      imageInput.disabled = false;
    },
    /** @param {HTMLCanvasElement} canvas */
    async addCameraFrame(canvas) {
      try {
        await countPages('webcam', 1);
        addPage(canvas, `Camera frame ${new Date().toLocaleTimeString()}`, 'webcam');
        message('Captured a camera frame: 1 Webcam page counted.');
      } catch (err) {
        message(`Capture not counted: ${failureText(err)}`, true);
      }
    },
  };
}
