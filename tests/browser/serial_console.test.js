// A serial console on console-gw's console page in a real Chromium: xterm.js
// (from npm, served at <base>/xterm/) shows what a real QEMU guest's SeaBIOS
// writes to its serial port, fits itself to the window, and the page says so
// in words when another client holds the console.
//
// Needs libvirtd running (the CTest fixture `libvirtd` starts it), Debian's
// chromium, and xterm.js at /usr/share/console-gw/xterm (scripts/install-deps).
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const h = require('./lib/harness');
const { startGateway } = require('./lib/services');
const { launchChromium, ConsolePage } = require('./lib/browser');

const limit = { timeout: 60_000 };

describe('serial console page in Chromium', { concurrency: false }, () => {
  const scratch = new h.Scratch();
  const tokens = [];
  let secret;
  let gateway;
  let browser;
  let guest; // SeaBIOS on its serial port, rebooting every second (no disk)

  before(async () => {
    assert.ok(fs.existsSync(h.consoleGw), `console-gw not found at ${h.consoleGw} (set CGW_CONSOLE_GW)`);
    guest = h.makeDomain(scratch, 'serial', "<serial type='pty'/><console type='pty'/>",
      { os: "<bios useserial='yes' rebootTimeout='1000'/>" });
    secret = scratch.hs256Secret('token.secret');
    gateway = await startGateway(scratch, 'gateway-serial', { secretFile: secret });
    browser = await launchChromium();
  }, { timeout: 90_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (gateway) await gateway.child.stop();
    h.removeDomains();
    fs.mkdirSync(h.artifactsDir, { recursive: true });
    const log = scratch.path('gateway-serial.log');
    if (fs.existsSync(log)) fs.copyFileSync(log, `${h.artifactsDir}/gateway-serial.log`);
    scratch.remove();
  }, { timeout: 60_000 });

  function token(...more) {
    const t = h.consoleGwCli('token', '--host', 'local', '--uuid', guest.uuid, '--console', 'serial',
      ...more, '--ttl', '60s', '--signing-key', secret);
    tokens.push(t);
    return t;
  }

  // The terminal's whole buffer as text.
  function terminalText(page) {
    return page.page.evaluate(() => {
      const term = window.cgwTerminal;
      if (!term) return '';
      const buffer = term.buffer.active;
      const lines = [];
      for (let i = 0; i < buffer.length; i += 1) lines.push(buffer.getLine(i).translateToString(true));
      return lines.join('\n');
    });
  }

  async function waitForText(page, text, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    let shown = '';
    while (!(shown = await terminalText(page)).includes(text) && Date.now() < deadline) await h.sleep(250);
    return shown;
  }

  it('shows SeaBIOS in xterm.js and fits the terminal to the window', limit, async () => {
    const page = await ConsolePage.open(browser, `${gateway.origin}/console?token=${token()}`);
    try {
      assert.equal(page.response.status(), 200);
      const status = await page.settled();
      assert.equal(status.state, 'connected', `status: ${JSON.stringify(status)}`);
      assert.equal(await page.page.title(), guest.name);
      const shown = await waitForText(page, 'SeaBIOS');
      assert.match(shown, /SeaBIOS \(version/, `the terminal shows:\n${shown}`);
      // Nothing was blocked by the page's Content-Security-Policy.
      assert.ok(!/Content Security Policy/i.test(page.describe()), page.describe());

      const size = () => page.page.evaluate(() => ({ cols: window.cgwTerminal.cols, rows: window.cgwTerminal.rows }));
      const wide = await size();
      await page.page.setViewportSize({ width: 640, height: 400 });
      await page.page.waitForFunction((cols) => window.cgwTerminal.cols < cols, wide.cols, { timeout: 5000 });
      const narrow = await size();
      assert.ok(narrow.cols < wide.cols && narrow.rows < wide.rows,
        `the terminal did not follow the window: ${JSON.stringify({ wide, narrow })}`);
      await page.screenshot('serial-xterm');
    } finally {
      await page.close();
    }
  });

  it('says so when another client holds the console (4423), and force takes it over (4411)', limit, async () => {
    const first = await ConsolePage.open(browser, `${gateway.origin}/console?token=${token()}`);
    try {
      assert.equal((await first.settled()).state, 'connected');
      await waitForText(first, 'SeaBIOS');
      const second = await ConsolePage.open(browser, `${gateway.origin}/console?token=${token()}`);
      try {
        let status = await second.settled();
        if (status.state === 'connected') status = await second.settled({ from: 'connected' });
        assert.equal(status.state, 'failed', `status: ${JSON.stringify(status)}`);
        assert.equal(status.code, '4423');
        assert.match(status.text, /Another client has this serial console open/);
      } finally {
        await second.close();
      }
      const forcing = await ConsolePage.open(browser, `${gateway.origin}/console?token=${token('--force')}`);
      try {
        assert.equal((await forcing.settled()).state, 'connected');
        const shown = await waitForText(forcing, 'SeaBIOS');
        assert.match(shown, /SeaBIOS/);
        const status = await first.settled({ from: 'connected' });
        assert.equal(status.code, '4411', `status: ${JSON.stringify(status)}`);
        assert.match(status.text, /taken over by another client/);
      } finally {
        await forcing.close();
      }
    } finally {
      await first.close();
    }
  });

  it('keeps every token out of console-gw\'s log', limit, () => {
    assert.ok(tokens.length >= 3);
    for (const t of tokens) assert.ok(!gateway.child.output.includes(t.split('.')[2]), 'the log holds a token');
  });
});
