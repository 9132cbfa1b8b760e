// The demo app imports a PDF: a document of known page count, made here with pdf-lib, goes
// through the page's file input, pdf.js rasterizes each page, and the license server counts
// exactly that many PDFR pages (and nothing else).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';

import { BOUNDED, openDemoApp, screenshot, sendDemoUsage, usageOf, withWorld } from './harness.mjs';

const PAGES = 5;

let w;

withWorld(
  (made) => {
    w = made;
  },
  { demo: true },
);

/** A letter-size PDF of `count` pages, each with a heading and a few lines of text. */
async function makePdf(count) {
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

test('a PDF imported in the demo app is counted as one PDFR page per page', BOUNDED, async () => {
  const page = await openDemoApp(w.context, w.origin);
  await page.waitForFunction(() => !document.getElementById('import-pdf').disabled);
  await page.setInputFiles('#import-pdf', { name: 'delivery-note.pdf', mimeType: 'application/pdf', buffer: await makePdf(PAGES) });

  await page.waitForFunction((n) => document.querySelectorAll('#pages [data-module="pdfr"]').length === n, PAGES, { timeout: 30_000 });
  assert.equal(await page.textContent('[data-module="pdfr"] td'), String(PAGES), 'the usage card shows the PDFR pages');
  await sendDemoUsage(page);
  await screenshot(page, 'demo-pdf');

  const { pages, scans } = await usageOf(w.data, w.licenseId);
  assert.deepEqual(pages, { pdfr: PAGES });
  assert.deepEqual(scans, {});
  assert.deepEqual(page.licetErrors, []);
});
