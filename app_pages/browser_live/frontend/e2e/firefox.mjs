// Drives Debian's Firefox ESR over WebDriver BiDi (puppeteer-core; no browser download, no geckodriver) for
// tests/test_other_browsers.py and benchmarks/browser_matrix.py:
// `node e2e/firefox.mjs SCENARIO URL FAKE_CAMERA_SCRIPT_FILE [PHOTO | FIGURES_SCRIPT_FILE SECONDS]`, SCENARIO one
// of live, record, webassembly-off, photos, benchmark. Prints one JSON object of what it saw.
import {readFileSync} from 'node:fs';
import puppeteer from 'puppeteer-core';

const [scenario, url, cameraFile, extra, seconds] = process.argv.slice(2);
const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const ENGINE = 'iframe[title*="browser_live"]';

/** Waits until `condition()` (run in `frame`) is truthy; returns its value. */
async function until(frame, condition, arg, timeout = 90_000) {
  const handle = await frame.waitForFunction(condition, {timeout, polling: 250}, arg);
  return handle.jsonValue();
}

async function engineFrame(page) {
  const element = await page.waitForSelector(ENGINE, {timeout: 90_000});
  return element.contentFrame();
}

/** What clicking the button with `words` downloads, read back in the page (app_harness/page_downloads.js).
 *  A click can land on a button the page is just replacing (a rerun as the stream stops): clicked again. */
async function downloaded(frame, tag, words) {
  await frame.evaluate(() => window.__catchDownloads());
  for (let attempt = 0; ; attempt++) {
    await (await byText(frame, tag, words)).click();
    try {
      await until(frame, () => window.__downloads.length > 0, undefined, 5000);
      return frame.evaluate(() => window.__downloaded(0));
    } catch (err) {
      if (attempt >= 17) throw err;
    }
  }
}

/** The Live page, until its engine is ready or says why it cannot start: its frame and status. */
async function openLive(tab) {
  await tab.goto(`${url}/live`, {waitUntil: 'domcontentloaded'});
  const engine = await engineFrame(tab);
  const status = await until(engine, () => {
    const text = document.getElementById('status')?.textContent ?? '';
    return /Ready|could not start|WebAssembly turned off/.test(text) && text;
  });
  return {engine, status};
}

const byText = (frame, tag, words) => frame.waitForSelector(`xpath/.//${tag}[contains(., "${words}")]`, {timeout: 90_000});

async function main() {
  const prefs = {'media.navigator.permission.disabled': true};
  if (scenario === 'webassembly-off') prefs['javascript.options.wasm'] = false;
  const browser = await puppeteer.launch({browser: 'firefox', executablePath: FIREFOX, headless: true,
                                          extraPrefsFirefox: prefs, protocolTimeout: 120_000});
  const seen = {scenario, console: []};
  try {
    const page = await browser.newPage();
    page.on('console', (message) => seen.console.push([message.type(), message.text()]));
    await page.setViewport({width: 1280, height: 1000});
    await page.evaluateOnNewDocument(readFileSync(cameraFile, 'utf8'));
    const downloads = new URL('../../../../app_harness/page_downloads.js', import.meta.url);
    await page.evaluateOnNewDocument(readFileSync(downloads, 'utf8'));
    if (scenario === 'photos') return await photos(page, seen);
    if (scenario === 'benchmark') return await benchmark(browser, page, seen);
    const {engine, status} = await openLive(page);
    seen.status = status;
    if (scenario === 'webassembly-off') {
      seen.pageText = await until(page.mainFrame(), () => /on the server instead/i.test(document.body.innerText)
                                                       && document.body.innerText);
      return seen;
    }
    if (scenario === 'record') {
      const settings = await byText(page.mainFrame(), 'button', 'Settings');  // the Live page's settings popover
      await settings.click();
      await (await byText(page.mainFrame(), 'label', 'Record the annotated video')).click();
      await settings.click();
      // the setting has reached the engine, which says so before Start
      await until(engine, () => /will be recorded/.test(document.getElementById('status').textContent));
    }
    await (await engine.waitForSelector('#start')).click();
    seen.running = await until(engine, () => /stays on this device/.test(document.getElementById('status').textContent)
                                            && document.getElementById('status').textContent);
    await until(page.mainFrame(), () => /Faces now/.test(document.body.innerText));
    await until(page.mainFrame(), () => {
      const match = document.body.innerText.match(/Frames analysed\s+([\d,]+)/);
      return match && Number(match[1].replace(/,/g, '')) >= 40;
    }, undefined, 120_000);
    seen.pixels = await engine.evaluate(() => {  // the canvas as drawn: a box and tag in an emotion's colour
      const canvas = document.getElementById('view');
      const bytes = new Uint8Array(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.buffer);
      return {width: canvas.width, height: canvas.height, base64: window.__toBase64(bytes)};
    });
    await (await engine.waitForSelector('#start')).click();  // Stop
    await until(page.mainFrame(), () => /Session summary/.test(document.body.innerText));
    seen.csv = await downloaded(page.mainFrame(), 'button', 'Download the session (CSV)');
    if (scenario === 'record') {
      seen.clip = await downloaded(engine, 'button', 'Download the clip (');
      seen.zip = await downloaded(engine, 'button', 'Download the clip and the timeline (ZIP)');
    }
    return seen;
  } finally {
    await browser.close();
    process.stdout.write(JSON.stringify(seen));
  }
}

/** Ready time, frames drawn a second, ms a frame and the engine's bytes (benchmarks/engine_figures.js), then
 *  a second visit in the same profile: ready time and bytes again, from the cache. */
async function benchmark(browser, page, seen) {
  const figures = readFileSync(extra, 'utf8');
  await page.evaluateOnNewDocument(figures);
  const visit = async (tab) => {
    const opened = await openLive(tab);
    if (!opened.status.startsWith('Ready')) throw new Error(`the engine did not start: ${opened.status}`);
    return opened;
  };
  const first = await visit(page);
  await (await first.engine.waitForSelector('#start')).click();
  await until(first.engine, () => /stays on this device/.test(document.getElementById('status').textContent));
  await new Promise((resolve) => setTimeout(resolve, (Number(seconds) + 3) * 1000));
  seen.first = await first.engine.evaluate((s) => window.__engineFigures(s), Number(seconds));
  await (await first.engine.waitForSelector('#start')).click();  // Stop
  const again = await browser.newPage();
  await again.evaluateOnNewDocument(figures);
  const second = await visit(again);
  seen.repeat = await second.engine.evaluate(() => window.__engineFigures(1));
  return seen;
}

async function photos(page, seen) {
  await page.goto(`${url}/upload`, {waitUntil: 'domcontentloaded'});
  const input = await page.waitForSelector('input[type="file"]', {timeout: 90_000});
  await input.uploadFile(extra);
  seen.pageText = await until(page.mainFrame(), () => /\b1 face\b/.test(document.body.innerText) && document.body.innerText,
                              undefined, 120_000);
  return seen;
}

await main();
