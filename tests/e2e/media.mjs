// The media the product tests feed the demo app, made here from real encoders: a camera video
// of barcodes (rendered by bwip-js, decoded from PNG by pngjs, converted to YUV 4:2:0 and
// written as y4m for Chromium's fake camera) with a timeline whose scan count the
// de-duplication rule fixes, and a PDF of known page count (pdf-lib).

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

import bwipjs from 'bwip-js';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import { PNG } from 'pngjs';

/**
 * A barcode: bwip-js's symbology name and the text it encodes.
 * @typedef {{ bcid: string, text: string }} Code
 */

/**
 * A barcode as RGBA pixels.
 * @typedef {{ width: number, height: number, data: Buffer }} Pixels
 */

const WIDTH = 640;
const HEIGHT = 360;
const FPS = 10;
/** The page's duplicateForgetTime for this test, set through its control. */
export const FORGET_MS = 1500;

const A = { bcid: 'qrcode', text: 'LICET-DEMO-A' };
const B = { bcid: 'qrcode', text: 'LICET-DEMO-B' };
const C = { bcid: 'qrcode', text: 'LICET-DEMO-C' };
const EAN = { bcid: 'ean13', text: '4006381333931' };
const CODE128 = { bcid: 'code128', text: 'LICET-128' };
/** The last scene: once the page has read it, the test stops the camera. */
const END = { bcid: 'qrcode', text: 'LICET-END' };

/**
 * The video, as [seconds, barcodes in view]. Every gap is far from FORGET_MS (0.5 s or 4 s
 * against 1.5 s), so that a frame decoded a little late or missed cannot change the count.
 * @type {[number, Code[]][]}
 */
export const TIMELINE = [
  [2, []], //          lead-in; also what separates END from A when the file loops
  [3, [A]], //         A: 1 scan
  [0.5, []], //        A leaves for 0.5 s < FORGET_MS...
  [2.5, [A]], //       ...so it is the same scan
  [3, [EAN]], //       EAN: 1 scan
  [4, []], //          EAN leaves for 4 s > FORGET_MS...
  [3, [EAN]], //       ...so it counts again: 2
  [3, [C, C]], //      two identical codes on one frame: 1 scan
  [3, [CODE128, B]], // two different codes on one frame: 2 scans
  [0.5, []],
  [2, [CODE128]], //   back after 0.5 s: the same scan
  [2.5, [END]], //     END: 1 scan
];
/** What the rule makes of TIMELINE: QR codes A, C, B and END once each; EAN twice; Code 128 once. */
export const EXPECTED_SCANS = { CODE_128: 1, EAN_13: 2, QR_CODE: 4 };

/**
 * A barcode rendered by bwip-js as a PNG file, as a photo or a scan of one would hold it.
 * @param {Code} code
 */
export function barcodePng({ bcid, text }) {
  // A linear code gets a height (mm) and its text below; a QR code keeps its square shape.
  /** @type {Partial<import('bwip-js').RenderOptions>} */
  const shape = bcid === 'qrcode' ? { scale: 5 } : { scale: 2, height: 18, includetext: true, textxalign: 'center' };
  return bwipjs.toBuffer({ bcid, text, ...shape, paddingwidth: 10, paddingheight: 10, backgroundcolor: 'FFFFFF' });
}

/**
 * A barcode rendered by bwip-js, as RGBA pixels: `{ width, height, data }`.
 * @param {Code} code
 * @returns {Promise<Pixels>}
 */
async function barcode(code) {
  return PNG.sync.read(await barcodePng(code));
}

/**
 * A WIDTH x HEIGHT RGBA frame: a grey-blue desk with `codes` side by side, centered.
 * @param {Pixels[]} codes
 */
function compose(codes) {
  const frame = Buffer.alloc(WIDTH * HEIGHT * 4);
  for (let i = 0; i < frame.length; i += 4) frame.set([214, 221, 232, 255], i);
  const gap = 40;
  const total = codes.reduce((sum, c) => sum + c.width, 0) + gap * (codes.length - 1);
  let x0 = Math.floor((WIDTH - total) / 2);
  for (const code of codes) {
    const y0 = Math.floor((HEIGHT - code.height) / 2);
    for (let y = 0; y < code.height; y++) {
      code.data.copy(frame, ((y0 + y) * WIDTH + x0) * 4, y * code.width * 4, (y + 1) * code.width * 4);
    }
    x0 += code.width + gap;
  }
  return frame;
}

/**
 * RGBA to planar YUV 4:2:0 (I420) with the BT.601 limited-range matrix, which is how Chromium
 * reads a y4m file: a Y sample per pixel, U and V averaged over each 2x2 block.
 * @param {Buffer} rgba
 */
function toI420(rgba) {
  const ySize = WIDTH * HEIGHT;
  const out = Buffer.alloc(ySize * 1.5);
  const [u0, v0] = [ySize, ySize + ySize / 4];
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const p = (y * WIDTH + x) * 4;
      out[y * WIDTH + x] = Math.round(16 + (65.481 * rgba[p] + 128.553 * rgba[p + 1] + 24.966 * rgba[p + 2]) / 255);
    }
  }
  for (let y = 0; y < HEIGHT; y += 2) {
    for (let x = 0; x < WIDTH; x += 2) {
      let [r, g, b] = [0, 0, 0];
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const p = ((y + dy) * WIDTH + x + dx) * 4;
        r += rgba[p] / 4;
        g += rgba[p + 1] / 4;
        b += rgba[p + 2] / 4;
      }
      const i = (y / 2) * (WIDTH / 2) + x / 2;
      out[u0 + i] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
      out[v0 + i] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
  return out;
}

/**
 * Writes TIMELINE as a y4m file at `path` (each scene is converted once, then repeated).
 * @param {string} path
 */
export async function writeVideo(path) {
  /** @type {Map<Code, Pixels>} */
  const images = new Map();
  for (const code of [A, B, C, EAN, CODE128, END]) images.set(code, await barcode(code));
  const out = createWriteStream(path);
  out.write(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F${FPS}:1 Ip A1:1 C420jpeg\n`);
  for (const [seconds, codes] of TIMELINE) {
    const frame = Buffer.concat([Buffer.from('FRAME\n'), toI420(compose(codes.map((c) => /** @type {Pixels} */ (images.get(c)))))]);
    for (let f = 0; f < Math.round(seconds * FPS); f++) {
      if (!out.write(frame)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
}

/**
 * A letter-size PDF of `count` pages, each with a heading and a few lines of text.
 * @param {number} count
 */
export async function makePdf(count) {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  for (let n = 1; n <= count; n++) {
    const page = pdf.addPage([612, 792]);
    page.drawRectangle({ x: 0, y: 712, width: 612, height: 80, color: rgb(0.18, 0.36, 0.92) });
    page.drawText('Delivery note', { x: 48, y: 740, size: 26, font: bold, color: rgb(1, 1, 1) });
    page.drawText(`Page ${n} of ${count}`, { x: 48, y: 670, size: 14, font: bold });
    for (let line = 0; line < 18; line++) {
      page.drawText(`Item ${(n - 1) * 18 + line + 1}: pallet of parts, checked and received`, { x: 48, y: 630 - line * 24, size: 12, font });
    }
  }
  return Buffer.from(await pdf.save());
}
