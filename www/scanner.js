// The demo's barcode scanner: decodes camera frames (getUserMedia and a loop on the video's
// frames) and uploaded images with zxing-wasm, and feeds every decoded frame to the page's Licet
// ScanSession, which decides what counts as a new scan (duplicateForgetTime, a control on the
// page). It draws the barcodes found over the picture, lists the latest results, and captures a
// camera frame as a document page on request. Barcode text stays in this page.
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';

/** @import { ReaderOptions, ReadResult } from 'zxing-wasm/reader' */
/** @import { BarcodeResult, ScanSession } from './pkg/licet.js' */

/**
 * A barcode of the results list: the latest sighting of one (symbology, text).
 * @typedef {object} SeenBarcode
 * @property {string} format the symbology, as Licet reports it
 * @property {string} text
 * @property {number} counted scans the session counted for it since the page opened
 * @property {number} at when it was last seen (ms)
 */

/**
 * The element of index.html with `id` (the page has every one this module names).
 * @param {string} id
 */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * The symbologies the demo reads: the common ones, so that a frame decodes fast.
 * @type {ReaderOptions}
 */
const READER_OPTIONS = {
  formats: ['QRCode', 'MicroQRCode', 'DataMatrix', 'Aztec', 'PDF417', 'EAN13', 'EAN8', 'UPCA', 'UPCE', 'Code128', 'Code39', 'Code93', 'ITF', 'Codabar'],
  tryHarder: true,
};
const RESULTS_SHOWN = 6;

/**
 * zxing's format name as the symbology Licet reports: "QRCode" → "QR_CODE", "EAN13" → "EAN_13".
 * @param {string} format
 */
export function symbology(format) {
  return format.replace(/[a-z](?=[A-Z\d])|[A-Z](?=[A-Z][a-z])|[A-Z](?=\d)/g, '$&_').toUpperCase();
}

/**
 * Wires the scanner card to `session` (a Licet ScanSession). `countScans({ symbology: n })` is
 * told of the new scans of each frame, `onCapture(canvas)` of a captured camera frame, and
 * `failureText(err)` says an error for a person.
 * @param {object} options
 * @param {ScanSession} options.session
 * @param {(added: Record<string, number>) => void} options.countScans
 * @param {(canvas: HTMLCanvasElement) => void} options.onCapture
 * @param {(err: unknown) => string} options.failureText
 */
export function createScanner({ session, countScans, onCapture, failureText }) {
  const viewer = /** @type {HTMLElement} */ (document.querySelector('.viewer'));
  const video = /** @type {HTMLVideoElement} */ ($('camera'));
  const overlay = /** @type {HTMLCanvasElement} */ ($('overlay'));
  const still = /** @type {HTMLImageElement} */ ($('still'));
  const toggle = /** @type {HTMLButtonElement} */ ($('camera-toggle'));
  const capture = /** @type {HTMLButtonElement} */ ($('capture'));
  const imageInput = /** @type {HTMLInputElement} */ ($('scan-image'));
  const forget = /** @type {HTMLInputElement} */ ($('forget-time'));
  const grab = document.createElement('canvas');
  // A new canvas's first context: never null.
  const grabContext = /** @type {CanvasRenderingContext2D} */ (grab.getContext('2d', { willReadFrequently: true }));
  /**
   * The latest distinct barcodes, by symbology and text: what the results list shows.
   * @type {Map<string, SeenBarcode>}
   */
  const seen = new Map();
  /** @type {MediaStream | null} */
  let stream = null;

  /** @param {string} text */
  const message = (text, isError = false) => {
    $('scanner-message').textContent = text;
    $('scanner-message').classList.toggle('error', isError);
  };

  // The decoder's wasm is served with the app (vendor/), never fetched from a CDN.
  const ready = prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) => (path.endsWith('.wasm') ? new URL(`./vendor/zxing-wasm/reader/${path}`, import.meta.url).href : prefix + path),
    },
    fireImmediately: true,
  });

  /**
   * Records one decoded frame taken at `at` (ms). Each distinct barcode goes to the session as
   * its own call with the frame's time: the rule is per (symbology, text) and identical codes
   * on one frame count once either way, so the counts are those of one call per frame, and the
   * page learns which barcode was new. A frame with no barcode is recorded too: it lets the
   * session forget what left the view.
   * @param {ReadResult[]} results
   * @param {number} at
   */
  function record(results, at) {
    /** @type {Map<string, BarcodeResult>} */
    const distinct = new Map();
    for (const r of results) {
      const format = symbology(r.format);
      distinct.set(`${format}\n${r.text}`, { format, text: r.text });
    }
    if (distinct.size === 0) session.recordFrame([], at);
    /** @type {Record<string, number>} */
    const added = {};
    for (const [key, result] of distinct) {
      const n = session.recordFrame([result], at);
      added[result.format] = (added[result.format] ?? 0) + n;
      const entry = seen.get(key) ?? { ...result, counted: 0, at };
      entry.counted += n;
      entry.at = at;
      seen.delete(key); // re-inserted last: the map stays in order of last sighting
      seen.set(key, entry);
    }
    while (seen.size > RESULTS_SHOWN) seen.delete(/** @type {string} */ (seen.keys().next().value));
    if (distinct.size) renderResults();
    countScans(added);
  }

  /** What the results list shows, as text: the list is rebuilt only when it changes. */
  let shown = '';

  function renderResults() {
    // A code that stays in view changes nothing but its time, shown to the second: most frames
    // leave the list as it is.
    const view = [...seen.values()].map((r) => `${r.format}\n${r.text}\n${r.counted}\n${Math.floor(r.at / 1000)}`).join('\n');
    if (view === shown) return;
    shown = view;
    const items = [...seen.values()].reverse().map((r) => {
      const li = document.createElement('li');
      li.innerHTML = '<span><span class="tag"></span></span><span class="text"></span><span class="tag"></span><span class="time"></span>';
      const [format, text, counted, time] = /** @type {HTMLCollectionOf<HTMLElement>} */ (li.children);
      /** @type {ChildNode} */ (format.firstChild).textContent = r.format;
      text.textContent = r.text;
      text.title = r.text;
      counted.textContent = r.counted === 1 ? 'counted once' : `counted ${r.counted}×`;
      counted.classList.add(r.counted ? 'tag-new' : 'tag-dup');
      time.textContent = new Date(r.at).toLocaleTimeString();
      return li;
    });
    $('results').replaceChildren(...items);
  }

  /**
   * Sets `canvas` to `width` x `height` when it has another size (a resize clears it).
   * @param {HTMLCanvasElement} canvas
   * @param {number} width
   * @param {number} height
   */
  function fit(canvas, width, height) {
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
  }

  /**
   * Outlines the barcodes of `results` on the overlay, which has the picture's size.
   * @param {ReadResult[]} results
   * @param {number} width
   * @param {number} height
   */
  function outline(results, width, height) {
    fit(overlay, width, height);
    // The overlay only ever gets a 2d context: never null.
    const ctx = /** @type {CanvasRenderingContext2D} */ (overlay.getContext('2d'));
    ctx.clearRect(0, 0, width, height);
    ctx.lineWidth = Math.max(3, width / 200);
    ctx.strokeStyle = '#3ddc84';
    ctx.fillStyle = 'rgb(61 220 132 / 18%)';
    for (const { position: p } of results) {
      ctx.beginPath();
      for (const corner of [p.topLeft, p.topRight, p.bottomRight, p.bottomLeft]) ctx.lineTo(corner.x, corner.y);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
    }
  }

  async function decodeCameraFrames() {
    while (stream) {
      /** @type {VideoFrameCallbackMetadata} */
      const frame = await new Promise((resolve) => video.requestVideoFrameCallback((_, metadata) => resolve(metadata)));
      if (!stream) return;
      const { videoWidth: width, videoHeight: height } = video;
      fit(grab, width, height);
      grabContext.drawImage(video, 0, 0);
      // The frame's own time (when the camera captured it, where the browser says), so that a
      // slow decode on a busy device does not stretch the gaps the session measures.
      const at = Math.round(performance.timeOrigin + (frame.captureTime ?? frame.expectedDisplayTime));
      const results = await readBarcodes(grabContext.getImageData(0, 0, width, height), READER_OPTIONS);
      if (!stream) return; // stopped while this frame decoded: it belongs to no session any more
      record(results, at);
      outline(results, width, height);
    }
  }

  async function startCamera() {
    toggle.disabled = true;
    message('Starting the camera…');
    try {
      await ready;
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
      video.srcObject = stream;
      await video.play();
      viewer.classList.remove('still');
      viewer.classList.add('camera');
      toggle.textContent = 'Stop camera';
      capture.disabled = false;
      message('Scanning: every frame is decoded, and each barcode counts once while it stays in view.');
      decodeCameraFrames().catch((err) => {
        stopCamera();
        message(`The scanner stopped: ${failureText(err)}`, true);
      });
    } catch (err) {
      stopCamera();
      message(/** @type {Error} */ (err).name === 'NotAllowedError' ? 'The browser did not allow this page to use the camera.' : `No camera: ${failureText(err)}`, true);
    } finally {
      toggle.disabled = false;
    }
  }

  function stopCamera() {
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    viewer.classList.remove('camera');
    overlay.width = 0;
    toggle.textContent = 'Start camera';
    capture.disabled = true;
    message('Camera stopped.');
  }

  toggle.addEventListener('click', () => (stream ? stopCamera() : startCamera()));

  capture.addEventListener('click', () => {
    const frame = document.createElement('canvas');
    frame.width = video.videoWidth;
    frame.height = video.videoHeight;
    /** @type {CanvasRenderingContext2D} */ (frame.getContext('2d')).drawImage(video, 0, 0);
    onCapture(frame);
  });

  imageInput.addEventListener('change', async () => {
    // An <input type="file"> always has a FileList, empty when nothing was chosen.
    const file = /** @type {FileList} */ (imageInput.files)[0];
    imageInput.value = '';
    if (!file) return;
    if (stream) stopCamera();
    try {
      await ready;
      const at = Date.now();
      const results = await readBarcodes(file, READER_OPTIONS);
      URL.revokeObjectURL(still.src);
      still.src = URL.createObjectURL(file);
      await still.decode();
      viewer.classList.add('still');
      record(results, at);
      outline(results, still.naturalWidth, still.naturalHeight);
      message(results.length ? `${results.length} barcode(s) in ${file.name}.` : `No barcode found in ${file.name}.`);
    } catch (err) {
      message(`Could not scan ${file.name}: ${failureText(err)}`, true);
    }
  });

  forget.addEventListener('change', () => {
    try {
      session.duplicateForgetTime = forget.valueAsNumber;
      message(`A barcode now counts again after ${forget.valueAsNumber} ms out of view.`);
    } catch (err) {
      forget.value = String(session.duplicateForgetTime);
      message(`Duplicate forget time: a whole number of ms from 0 to 180000 (${/** @type {{ code?: string }} */ (err).code}).`, true);
    }
  });

  toggle.disabled = false;
  imageInput.disabled = false;
}
