// console-gw's own RFB security, seen from a real Chromium running noVNC:
//  - the gateway answers a QEMU VNC server's password challenge itself (the
//    password from the domain's libvirt XML) and offers the browser security
//    type None, so noVNC never asks, and the password never reaches the browser;
//  - a password the VNC server rejects closes the console with 4503 and a
//    sentence;
//  - a token's `view_only` claim keeps the browser's keys and pointer from the
//    VNC server, while the screen keeps updating. Proven on TigerVNC's Xvnc,
//    reached through libvirt's test driver, with xev windows that print every
//    key and pointer event the X server delivers.
//
// Needs libvirtd running (the CTest fixture `libvirtd`) and, from Debian:
// chromium, novnc, tigervnc-standalone-server (Xvnc), x11-utils (xev).
// CGW_CONSOLE_GW names the console-gw binary, CGW_REPO_ROOT the source tree.
// Screenshots and logs go to tests/artifacts/browser/rfb-*.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');

const h = require('./lib/harness');
const { startGateway } = require('./lib/services');
const { launchChromium, ConsolePage } = require('./lib/browser');
const { startXvnc, startXev, inputEvents } = require('./lib/xvnc');

const limit = { timeout: 45_000 };

// The VNC password of the QEMU guest: it must reach QEMU, and nothing else.
// VNC Authentication uses at most 8 characters, and libvirt refuses more.
const password = 's3cr3tGW';
const wrongPassword = 'wr0ngPW!';
h.recordSecret(password);
h.recordSecret(wrongPassword);

describe('RFB security in Chromium', { concurrency: false }, () => {
  const scratch = new h.Scratch();
  let secret;
  let gateway;
  let browser;
  let locked; // QEMU guest on qemu:///system with a VNC password
  let xvnc; // Xvnc, behind a test-driver domain
  let xev; // xev covering Xvnc's screen: what input reached the X server
  const extraXevs = new Set();
  const desk = { name: 'cgw-xvnc', uuid: crypto.randomUUID() };

  before(async () => {
    assert.ok(fs.existsSync(h.consoleGw), `console-gw not found at ${h.consoleGw} (set CGW_CONSOLE_GW)`);
    h.removeStaleDomains();
    locked = h.makeDomain(scratch, 'vnc-passwd',
      `<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='${password}'/>
    <video><model type='cirrus'/></video>`);
    secret = scratch.hs256Secret('token.secret');
    const wrongPasswordFile = scratch.write('wrong.passwd', `${wrongPassword}\n`);

    xvnc = await startXvnc(scratch);
    xev = await startXev(scratch, xvnc, 'input', { geometry: `${xvnc.width}x${xvnc.height}+0+0` });
    // libvirt's test driver: one running domain whose VNC console is Xvnc's port.
    const node = scratch.write('node.xml', `<node>
  <domain type='test'>
    <name>${desk.name}</name>
    <uuid>${desk.uuid}</uuid>
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <devices><graphics type='vnc' port='${xvnc.port}' listen='127.0.0.1'/></devices>
  </domain>
</node>
`);
    gateway = await startGateway(scratch, 'gateway-rfb', {
      secretFile: secret,
      extra: `
[hosts.local]
uri = "qemu:///system"
vnc_password_from_libvirt = true

[hosts.wrongpw]
uri = "qemu:///system"
vnc_password_file = "${wrongPasswordFile}"

[hosts.xvnc]
uri = "test://${node}"

[hosts.xvnc_passthrough]
uri = "test://${node}"
vnc_security = "passthrough"
`,
    });
    browser = await launchChromium();
  }, { timeout: 60_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (gateway) await gateway.child.stop();
    for (const child of [...extraXevs, xev]) if (child) await child.stop();
    if (xvnc) await xvnc.child.stop();
    h.removeDomains();
    fs.mkdirSync(h.artifactsDir, { recursive: true });
    for (const file of fs.readdirSync(scratch.dir)) {
      if (file.endsWith('.log')) fs.copyFileSync(scratch.path(file), `${h.artifactsDir}/rfb-${file}`);
    }
    scratch.remove();
  }, { timeout: 30_000 });

  function token(host, domain, claims = {}) {
    const now = Math.floor(Date.now() / 1000);
    return h.mintHs256(secret, { sub: `${host}-${domain.uuid}`, iat: now, exp: now + 60, ...claims });
  }

  function consoleUrl(host, domain, claims) {
    return `${gateway.origin}/console?token=${token(host, domain, claims)}`;
  }

  // A console page with everything the browser received kept: the bodies of
  // every HTTP response, and the WebSocket frames each way.
  async function openObserved(url) {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();
    const messages = [];
    const bodies = [];
    const received = [];
    const sent = [];
    const bytes = (payload) => (Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'));
    page.on('console', (m) => messages.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => messages.push(`page error: ${e.message}`));
    page.on('response', (r) => bodies.push(r.body().then((body) => ({ url: r.url(), body }), () => null)));
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => received.push(bytes(f.payload)));
      ws.on('framesent', (f) => sent.push(bytes(f.payload)));
    });
    // noVNC's own events (connect, credentialsrequired, securityfailure, ...),
    // as it makes them: its RFB object is no DOM node, so they are caught where
    // they are constructed.
    await page.addInitScript(() => {
      window.cgwRfbEvents = [];
      window.CustomEvent = new Proxy(window.CustomEvent, {
        construct(Native, args) {
          window.cgwRfbEvents.push({ type: args[0], detail: args[1] && args[1].detail });
          return new Native(...args);
        },
      });
    });
    const response = await page.goto(url, { waitUntil: 'load' });
    const observed = new ConsolePage(context, page, response, messages);
    Object.assign(observed, { bodies, received, sent });
    return observed;
  }

  // The types of noVNC's events so far, with the detail of those that have one.
  function rfbEvents(page) {
    return page.page.evaluate(() => JSON.parse(JSON.stringify(window.cgwRfbEvents)));
  }

  async function withPage(name, url, check) {
    const page = await openObserved(url);
    try {
      await check(page);
    } catch (e) {
      e.message += `\n--- what the page logged ---\n${page.describe()}` +
        `\n--- console-gw ---\n${tail(gateway.child.output)}`;
      throw e;
    } finally {
      await page.screenshot(`rfb-${name}`).catch(() => {});
      await page.close();
    }
  }

  function tail(text, lines = 15) {
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  async function assertConnected(page) {
    assert.equal(page.response.status(), 200);
    const status = await page.settled();
    assert.equal(status.state, 'connected', `status: ${JSON.stringify(status)}`);
  }

  async function assertScreenShows(page, name) {
    const colours = await page.waitForPicture('#screen', `rfb-${name}`);
    assert.ok(colours.canvas >= 2, `the console's canvas has ${colours.canvas} colour(s): ${JSON.stringify(colours)}`);
    assert.ok(colours.screenshot >= 2, `its screenshot has ${colours.screenshot} colour(s): ${JSON.stringify(colours)}`);
  }

  // The RFB version and the security types the browser was offered, from the
  // first bytes it received (RFB 3.7 and 3.8: a count, then the types).
  function offeredSecurity(received) {
    const stream = Buffer.concat(received);
    const version = stream.toString('latin1', 0, 12);
    const count = stream[12];
    return { version, types: [...stream.subarray(13, 13 + count)] };
  }

  // The colour of the framebuffer at (fx, fy), fractions of its width and
  // height, as noVNC drew it on its canvas.
  function pixelAt(page, fx, fy) {
    return page.page.evaluate(([x, y]) => {
      let best = null;
      for (const c of document.querySelectorAll('#screen canvas')) {
        if (!best || c.width * c.height > best.width * best.height) best = c;
      }
      if (!best || !best.width) return null;
      const d = best.getContext('2d').getImageData(Math.floor(x * best.width), Math.floor(y * best.height), 1, 1).data;
      return [d[0], d[1], d[2]];
    }, [fx, fy]);
  }

  async function waitForPixel(page, fx, fy, test, what, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let rgb = null;
    while (!(rgb && test(rgb)) && Date.now() < deadline) {
      await h.sleep(100);
      rgb = await pixelAt(page, fx, fy);
    }
    assert.ok(rgb && test(rgb), `the canvas does not show ${what}: pixel at (${fx}, ${fy}) is ${JSON.stringify(rgb)}`);
  }
  const white = ([r, g, b]) => r > 200 && g > 200 && b > 200;
  const black = ([r, g, b]) => r < 60 && g < 60 && b < 60;

  // What a person does at the console: a click in the middle of the screen
  // (which also gives noVNC's canvas the keyboard), a word typed, the pointer
  // moved across.
  async function clickAndType(page) {
    const canvas = await page.screenCanvas('#screen');
    await canvas.locator.click();
    await page.page.keyboard.type('qwerty', { delay: 20 });
    const box = await canvas.locator.boundingBox();
    await page.page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3, { steps: 5 });
  }

  function describeEvents(events) {
    return events.map((e) => `${e.type}${e.keysym ? ` ${e.keysym}` : ''}${e.button ? ` button ${e.button}` : ''}`).join(', ');
  }

  async function assertInputArrives(mark) {
    const wanted = () => {
      const events = inputEvents(xev, mark);
      const keys = events.filter((e) => e.type === 'KeyPress').map((e) => e.keysym).join('');
      const clicked = events.some((e) => e.type === 'ButtonPress' && e.button === 1);
      return { events, ok: keys.includes('qwerty') && clicked };
    };
    const deadline = Date.now() + 5000;
    while (!wanted().ok && Date.now() < deadline) await h.sleep(100);
    const { events, ok } = wanted();
    assert.ok(ok, `xev saw: ${describeEvents(events) || 'no input'}`);
  }

  it('gives the VNC server its password from libvirt, with no prompt in the browser, and never the browser', limit, async () => {
    const mark = gateway.child.output.length;
    await withPage('vnc-password', consoleUrl('local', locked), async (page) => {
      await assertConnected(page);
      await assertScreenShows(page, 'vnc-password');
      const status = await page.status();
      assert.equal(status.state, 'connected', `status: ${JSON.stringify(status)}`);
      assert.doesNotMatch(status.text, /password/);
      const events = (await rfbEvents(page)).map((e) => e.type);
      assert.ok(events.includes('connect'), `noVNC's events: ${events}`);
      assert.ok(!events.includes('credentialsrequired'), `noVNC asked for credentials: ${events}`);

      // QEMU asks for VNC Authentication; the browser is offered None only.
      const offered = offeredSecurity(page.received);
      assert.match(offered.version, /^RFB 003\.00[78]\n$/);
      assert.deepEqual(offered.types, [1], `security types offered to the browser: ${offered.types}`);

      const secretBytes = Buffer.from(password, 'utf8');
      for (const [i, frame] of page.received.entries()) {
        assert.ok(!frame.includes(secretBytes), `WebSocket frame ${i} from the gateway holds the password`);
      }
      assert.ok(!Buffer.concat(page.received).includes(secretBytes), 'the WebSocket stream holds the password');
      assert.ok(!Buffer.concat(page.sent).includes(secretBytes), 'the browser sent the password');
      const bodies = (await Promise.all(page.bodies)).filter(Boolean);
      assert.ok(bodies.some((b) => /\/console\?token=/.test(b.url)), `responses: ${bodies.map((b) => b.url)}`);
      assert.ok(bodies.some((b) => /\/novnc\/core\/rfb\.js$/.test(b.url)), `responses: ${bodies.map((b) => b.url)}`);
      for (const { url, body } of bodies) {
        assert.ok(!body.includes(secretBytes), `${url} holds the password`);
      }
      assert.ok(!(await page.page.content()).includes(password), "the page's DOM holds the password");
    });
    const log = gateway.child.output.slice(mark);
    assert.match(log, new RegExp(`uuid=${locked.uuid} path=\\w+ outcome=connected`), tail(log));
    assert.ok(!gateway.child.output.includes(password), "console-gw's log holds the password");
  });

  it('says so when the VNC server rejects the password (4503)', limit, async () => {
    await withPage('vnc-password-rejected', consoleUrl('wrongpw', locked), async (page) => {
      const status = await page.settled();
      assert.equal(status.state, 'failed', `status: ${JSON.stringify(status)}`);
      assert.equal(status.code, '4503', `status: ${JSON.stringify(status)}`);
      assert.match(status.text, /VNC password rejected by the server/i, `status: ${JSON.stringify(status)}`);
      assert.equal(await page.page.isVisible('#reconnect'), true);
      // noVNC was told why before the close, and never asked for a password.
      const events = await rfbEvents(page);
      const failure = events.find((e) => e.type === 'securityfailure');
      assert.ok(failure, `noVNC's events: ${JSON.stringify(events)}`);
      assert.ok(!events.some((e) => e.type === 'credentialsrequired'), `noVNC's events: ${JSON.stringify(events)}`);
    });
    assert.ok(!gateway.child.output.includes(wrongPassword), "console-gw's log holds the password");
  });

  for (const [host, name] of [['xvnc_passthrough', 'passthrough'], ['xvnc', 'gateway-rfb']]) {
    it(`passes keys and clicks to the VNC server on a normal token (${name}; Xvnc, xev)`, limit, async () => {
      await withPage(`xvnc-input-${name}`, consoleUrl(host, desk), async (page) => {
        await assertConnected(page);
        await assertScreenShows(page, `xvnc-input-${name}`);
        await waitForPixel(page, 0.5, 0.5, white, "xev's window");
        const mark = xev.output.length;
        await clickAndType(page);
        await assertInputArrives(mark);
      });
    });
  }

  it('keeps keys and clicks from the VNC server on a view_only token, and the screen still updates', limit, async () => {
    await withPage('xvnc-view-only', consoleUrl('xvnc', desk, { view_only: true }), async (page) => {
      await assertConnected(page);
      await assertScreenShows(page, 'xvnc-view-only');
      await waitForPixel(page, 0.5, 0.5, white, "xev's window");
      const mark = xev.output.length;
      const sentBefore = page.sent.length;
      await clickAndType(page);
      // noVNC itself is not in view-only mode: it did send the input (the
      // frames are reported a moment after they go).
      const sentTypes = () => page.sent.slice(sentBefore).map((frame) => frame[0]);
      const sentInput = () => sentTypes().some((t) => t === 4 || t === 255) && sentTypes().includes(5);
      const deadline = Date.now() + 3000;
      while (!sentInput() && Date.now() < deadline) await h.sleep(50);
      assert.ok(sentTypes().some((t) => t === 4 || t === 255), `the browser sent no key events: ${sentTypes()}`);
      assert.ok(sentTypes().includes(5), `the browser sent no pointer events: ${sentTypes()}`);

      // The screen still follows the X server: a black window opens over the
      // middle, then closes. Each change is drawn after the browser asked for
      // it, after the input above, on the same byte stream: had the input gone
      // through, the X server would have had it by then.
      const cover = await startXev(scratch, xvnc, 'cover', { geometry: '240x180+280+210', reverse: true });
      extraXevs.add(cover);
      await waitForPixel(page, 0.5, 0.5, black, 'the window opened after connecting');
      await page.screenshot('rfb-xvnc-view-only-updated');
      await cover.stop();
      extraXevs.delete(cover);
      await waitForPixel(page, 0.5, 0.5, white, "xev's window again, once the other closed");
      await h.sleep(500);
      const events = [...inputEvents(xev, mark), ...inputEvents(cover)];
      assert.deepEqual(events, [], `the X server got input: ${describeEvents(events)}`);
      const status = await page.status();
      assert.equal(status.state, 'connected', `status: ${JSON.stringify(status)}`);
    });
  });
});
