// Chromium (Debian's, never a downloaded one) driven by playwright-core, and
// what the tests read from console-gw's console page: the #status element's
// state, close code and sentence, and the pixels of the console's canvas.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { artifactsDir, chromiumPath, decodePng, distinctColours, sleep } = require('./harness');

const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Only loopback: no proxy from the environment, and no name resolves.
  '--no-proxy-server',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

function launchChromium() {
  if (!fs.existsSync(chromiumPath)) throw new Error(`${chromiumPath} not found (apt-get install chromium)`);
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
}

// One console page in a browser context of its own.
class ConsolePage {
  constructor(context, page, response, messages) {
    this.context = context;
    this.page = page;
    this.response = response;
    this.messages = messages;
  }

  // `headers` go with every request, the WebSocket's included. The proxies'
  // certificates are self-signed, hence ignoreHTTPSErrors.
  static async open(browser, url, { headers } = {}) {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1024, height: 768 },
      extraHTTPHeaders: headers,
    });
    const page = await context.newPage();
    const messages = [];
    page.on('console', (m) => messages.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => messages.push(`page error: ${e.message}`));
    const response = await page.goto(url, { waitUntil: 'load' });
    return new ConsolePage(context, page, response, messages);
  }

  status() {
    return this.page.evaluate(() => {
      const s = document.getElementById('status');
      return { state: s.dataset.state, code: s.dataset.code || '', text: s.textContent };
    });
  }

  // The status once it has left "connecting" (or, with `from`, that state).
  async settled({ from = 'connecting', timeoutMs = 20_000 } = {}) {
    await this.page.waitForFunction(
      (state) => document.getElementById('status').dataset.state !== state, from, { timeout: timeoutMs },
    ).catch(() => {});
    return this.status();
  }

  // The console's canvas: the largest canvas below `container`, marked so a
  // locator can find it again.
  async screenCanvas(container) {
    const found = await this.page.evaluate((selector) => {
      let best = null;
      for (const c of document.querySelectorAll(`${selector} canvas`)) {
        c.removeAttribute('data-cgw-screen');
        if (!best || c.width * c.height > best.width * best.height) best = c;
      }
      if (!best) return null;
      best.setAttribute('data-cgw-screen', '');
      return { width: best.width, height: best.height };
    }, container);
    return found && { ...found, locator: this.page.locator(`${container} canvas[data-cgw-screen]`) };
  }

  // Distinct colours in the canvas's own pixels (getImageData).
  canvasColours(container) {
    return this.page.evaluate((selector) => {
      let best = null;
      for (const c of document.querySelectorAll(`${selector} canvas`)) {
        if (!best || c.width * c.height > best.width * best.height) best = c;
      }
      if (!best || !best.width || !best.height) return 0;
      const data = best.getContext('2d').getImageData(0, 0, best.width, best.height).data;
      const seen = new Set();
      for (let i = 0; i < data.length && seen.size < 256; i += 4) {
        seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      }
      return seen.size;
    }, container);
  }

  // Waits until the console's canvas shows a picture (more than one colour),
  // then checks the same on a screenshot of it, as Chromium drew it. Returns
  // { canvas: colours in the canvas, screenshot: colours in the screenshot }.
  async waitForPicture(container, name, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    let colours = 0;
    while ((colours = await this.canvasColours(container)) < 2 && Date.now() < deadline) await sleep(250);
    // A moment more, so that the screenshot has the whole of SeaBIOS's text.
    await sleep(500);
    const canvas = await this.screenCanvas(container);
    if (!canvas) return { canvas: 0, screenshot: 0 };
    const png = await canvas.locator.screenshot({ path: artifact(`${name}-canvas.png`) });
    return { canvas: colours, screenshot: distinctColours(decodePng(png)), size: `${canvas.width}x${canvas.height}` };
  }

  screenshot(name) {
    return this.page.screenshot({ path: artifact(`${name}.png`) });
  }

  // What the page said, for a failing test's message.
  describe() {
    return this.messages.join('\n');
  }

  close() {
    return this.context.close();
  }
}

function artifact(name) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  return path.join(artifactsDir, name);
}

module.exports = { launchChromium, ConsolePage, artifact };
