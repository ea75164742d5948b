// Session recording seen in a real Chromium: a QEMU guest's VNC console opened
// through console-gw with a token that asks for recording (`console-gw token
// --record`), then the recording played back by `console-gw replay` to noVNC on
// the same console page, which must end on the picture the live console showed.
//
// Needs libvirtd running (the CTest fixture `libvirtd`) and, from Debian:
// chromium, novnc. CGW_CONSOLE_GW names the console-gw binary, CGW_REPO_ROOT
// the source tree. Screenshots go to tests/artifacts/browser/recording-*.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const h = require('./lib/harness');
const { startGateway } = require('./lib/services');
const { launchChromium, ConsolePage } = require('./lib/browser');

// The console's canvas as Chromium holds it, decoded: { width, height, channels, pixels }.
async function canvasPixels(page) {
  const url = await page.page.evaluate(() => {
    let best = null;
    for (const c of document.querySelectorAll('#screen canvas')) {
      if (!best || c.width * c.height > best.width * best.height) best = c;
    }
    return best ? best.toDataURL('image/png') : null;
  });
  assert.ok(url, 'no canvas on the page');
  return h.decodePng(Buffer.from(url.split(',')[1], 'base64'));
}

// How many pixels differ between two pictures of the same size.
function differingPixels(a, b) {
  assert.equal(`${a.width}x${a.height}`, `${b.width}x${b.height}`, 'the pictures differ in size');
  let differ = 0;
  for (let i = 0; i < a.width * a.height; i++) {
    for (let c = 0; c < 3; c++) {
      if (a.pixels[i * a.channels + c] !== b.pixels[i * b.channels + c]) {
        differ++;
        break;
      }
    }
  }
  return differ;
}

// The one recording in `dir` once its size has stopped changing.
async function settledRecording(dir) {
  let last = -1;
  for (let i = 0; i < 100; i++) {
    await h.sleep(100);
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cgwrec')) : [];
    if (files.length !== 1) continue;
    const file = `${dir}/${files[0]}`;
    const size = fs.statSync(file).size;
    if (size > 0 && size === last) return file;
    last = size;
  }
  throw new Error(`no settled recording in ${dir}`);
}

// The canvas once two looks a second apart differ in no more than a text
// cursor's pixels (at most 30 s).
async function settledPicture(page) {
  const deadline = Date.now() + 30_000;
  let last = await canvasPixels(page);
  while (Date.now() < deadline) {
    await h.sleep(1000);
    const now = await canvasPixels(page);
    if (differingPixels(last, now) <= 100) return now;
    last = now;
  }
  return last;
}

describe('session recording and replay in Chromium', { concurrency: false }, () => {
  const scratch = new h.Scratch();
  const recordings = scratch.path('recordings');
  let secret;
  let gateway;
  let browser;
  let vnc;
  let replay;

  before(async () => {
    assert.ok(fs.existsSync(h.consoleGw), `console-gw not found at ${h.consoleGw} (set CGW_CONSOLE_GW)`);
    h.removeStaleDomains();
    vnc = h.makeDomain(scratch, 'recorded', h.vncDevices);
    secret = scratch.hs256Secret('token.secret');
    gateway = await startGateway(scratch, 'gateway-recording', {
      secretFile: secret,
      extra: `[recording]\ndirectory = "${recordings}"\n`,
    });
    browser = await launchChromium();
  }, { timeout: 90_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (replay) await replay.stop();
    if (gateway) await gateway.child.stop();
    h.removeDomains();
    fs.mkdirSync(h.artifactsDir, { recursive: true });
    for (const log of ['gateway-recording.log', 'replay.log']) {
      const file = scratch.path(log);
      if (fs.existsSync(file)) fs.copyFileSync(file, `${h.artifactsDir}/recording-${log}`);
    }
    scratch.remove();
  }, { timeout: 60_000 });

  it('replays a recorded VNC session to noVNC, ending on the live picture', { timeout: 120_000 }, async () => {
    const token = h.consoleGwCli('token', '--host', 'local', '--uuid', vnc.uuid, '--console', 'vnc',
      '--record', '--ttl', '60s', '--signing-key', secret);

    // Live: the guest's screen (SeaBIOS stopped at "No bootable device").
    const live = await ConsolePage.open(browser, `${gateway.origin}/console?token=${token}`);
    let livePicture;
    try {
      const colours = await live.waitForPicture('#screen', 'recording-live');
      assert.ok(colours.canvas >= 2, `the live canvas has ${colours.canvas} colour(s)\n${live.describe()}`);
      // The picture the screen settles on (under TCG on a busy machine SeaBIOS
      // may still be printing): the recording ends with it, as the page closes.
      livePicture = await settledPicture(live);
    } finally {
      await live.close();
    }

    const file = await settledRecording(recordings);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(recordings).mode & 0o777, 0o700);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.indexOf(token), -1, 'the token is in the recording');
    const header = JSON.parse(bytes.subarray(0, bytes.indexOf(10)).toString());
    assert.equal(header.format, 'console-gw-recording');
    assert.equal(header.version, 1);
    assert.equal(header.domain, vnc.uuid);
    assert.equal(header.console, 'vnc');
    const gatewayLog = fs.readFileSync(scratch.path('gateway-recording.log'), 'utf8');
    assert.match(gatewayLog, /recording to .*\.cgwrec/);

    // Replayed at twice the speed, to noVNC on the same console page.
    const port = await h.freePort();
    replay = new h.Child('console-gw replay', h.consoleGw,
      ['replay', file, '--speed', '2', '--ws-port', String(port), '--listen', '127.0.0.1'],
      scratch.path('replay.log'));
    const [, url] = await replay.waitForOutput(/open (http:\/\/127\.0\.0\.1:\d+\/console)/);
    const page = await ConsolePage.open(browser, url);
    try {
      const status = await page.settled();
      assert.equal(status.state, 'connected', `${JSON.stringify(status)}\n${page.describe()}`);
      assert.match(status.text, /view only/);
      await replay.waitForOutput(/replay finished/, 30_000);
      await h.sleep(500);
      const colours = await page.waitForPicture('#screen', 'recording-replay');
      assert.ok(colours.canvas >= 2, `the replayed canvas has ${colours.canvas} colour(s)`);
      const replayed = await canvasPixels(page);
      const differ = differingPixels(livePicture, replayed);
      // The same picture; SeaBIOS's text cursor may blink between the live
      // picture and the page's close, which is a handful of pixels.
      assert.ok(differ <= livePicture.width * livePicture.height * 0.002,
        `${differ} of ${livePicture.width * livePicture.height} pixels differ from the live picture`);
      const after = await page.status();
      assert.equal(after.state, 'connected', 'the replay stays open on its last picture');
    } finally {
      await page.close();
    }
  });
});
