// Records what real noVNC sends to a real VNC server, for tests/rfb.
//
//   node record.js xvnc <out.bin>   TigerVNC's Xvnc, -SecurityTypes None
//   node record.js qemu <out.bin>   a QEMU guest with no disk (its BIOS screen)
//   node record.js xvnc-plain <out.bin>
//                                   Xvnc, with noVNC told after connecting that the
//                                   server has neither QEMU's extended key events nor
//                                   the extended clipboard, so that its fallbacks
//                                   (KeyEvent, plain ClientCutText) are recorded too
//
// Starts the VNC server on 127.0.0.1, serves Debian's noVNC (/usr/share/novnc)
// and a WebSocket → TCP relay on 127.0.0.1, drives Debian's Chromium through a
// session (mouse moves, clicks, drags and the wheel, typed keys, a clipboard
// paste, window resizes), and writes the browser → server bytes that follow the
// security handshake (RFB 3.8, security type None), ClientInit first. Only
// loopback traffic; no browser is downloaded.
'use strict';

const { chromium } = require('playwright-core');
const { WebSocketServer } = require('ws');
const child_process = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');

const NOVNC = '/usr/share/novnc';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run'];

const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>record</title>
<style>html, body { margin: 0; height: 100%; } #screen { width: 100%; height: 100%; }</style>
</head><body><div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
const rfb = new RFB(document.getElementById('screen'),
                    'ws://' + location.host + '/websockify', { shared: true });
rfb.resizeSession = true;
rfb.addEventListener('connect', () => { window.connected = true; });
rfb.addEventListener('disconnect', () => { window.disconnected = true; });
window.rfb = rfb;
</script></body></html>`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function freeDisplay() {
  for (let d = 57; d < 99; d++) {
    if (!fs.existsSync(`/tmp/.X${d}-lock`) && !fs.existsSync(`/tmp/.X11-unix/X${d}`)) return d;
  }
  throw new Error('no free X display number');
}

function startServer(kind) {
  const display = freeDisplay();
  const port = 5900 + display;
  let proc;
  if (kind === 'xvnc' || kind === 'xvnc-plain') {
    proc = child_process.spawn('Xvnc', [`:${display}`, '-rfbport', String(port),
      '-interface', '127.0.0.1', '-localhost', '-SecurityTypes', 'None',
      '-geometry', '800x600', '-depth', '24', '-nolisten', 'tcp', '-AcceptSetDesktopSize=1'],
      { stdio: 'ignore' });
  } else if (kind === 'qemu') {
    proc = child_process.spawn('qemu-system-x86_64', ['-nodefaults', '-no-user-config',
      '-machine', 'accel=tcg', '-m', '64', '-vga', 'std', '-display', 'none',
      '-vnc', `127.0.0.1:${display}`], { stdio: 'ignore' });
  } else {
    throw new Error(`unknown server ${kind}: xvnc or qemu`);
  }
  return { proc, port };
}

// Serves the page and noVNC's files, and relays /websockify to the VNC server,
// keeping every byte the browser sends.
function startRelay(vncPort, sent) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/record.html') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(PAGE);
      return;
    }
    const file = path.normalize(path.join(NOVNC, url.pathname));
    if (!file.startsWith(NOVNC + '/') || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404);
      res.end();
      return;
    }
    const type = file.endsWith('.js') ? 'text/javascript' : 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type });
    fs.createReadStream(file).pipe(res);
  });
  const wss = new WebSocketServer({ server, path: '/websockify' });
  wss.on('connection', (ws) => {
    const tcp = net.connect(vncPort, '127.0.0.1');
    tcp.setNoDelay(true);
    const pending = [];
    tcp.on('connect', () => { for (const b of pending) tcp.write(b); pending.length = 0; });
    ws.on('message', (data) => {
      const bytes = Buffer.from(data);
      sent.push(bytes);
      if (tcp.connecting) pending.push(bytes); else tcp.write(bytes);
    });
    tcp.on('data', (data) => ws.send(data));
    tcp.on('close', () => ws.close());
    ws.on('close', () => tcp.end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function session(page, plain) {
  await page.waitForFunction(() => window.connected === true, null, { timeout: 20000 });
  await sleep(1500);
  if (plain) {
    await page.evaluate(() => {
      window.rfb._qemuExtKeyEventSupported = false;
      window.rfb._clipboardServerCapabilitiesFormats = {};
    });
  }
  // Pointer: moves, a drag, clicks of each button, the wheel.
  await page.mouse.move(50, 50);
  await page.mouse.move(400, 300, { steps: 40 });
  await page.mouse.down();
  await page.mouse.move(500, 350, { steps: 10 });
  await page.mouse.up();
  await page.mouse.click(300, 200, { button: 'right' });
  await page.mouse.click(310, 210, { button: 'middle' });
  await page.mouse.dblclick(320, 220);
  await page.mouse.wheel(0, 300);
  await page.mouse.wheel(0, -200);
  // Keys: focus the screen, then type.
  await page.mouse.click(400, 300);
  await page.keyboard.type('Hello, view-only world! 42', { delay: 15 });
  for (const key of ['Enter', 'Control+a', 'Shift+Tab', 'F5', 'ArrowLeft', 'Escape', 'Alt+F4']) {
    await page.keyboard.press(key);
  }
  // A paste: noVNC sends ClientCutText (the extended form when the server has it).
  await page.evaluate(() => window.rfb.clipboardPasteFrom(
      'pasted by the recorder: ' + 'clipboard text '.repeat(200)));
  await sleep(500);
  await page.evaluate(() => window.rfb.clipboardPasteFrom('short paste'));
  await sleep(500);
  // Resizes: with resizeSession noVNC asks the server for the new size.
  await page.setViewportSize({ width: 1024, height: 700 });
  await sleep(1500);
  await page.setViewportSize({ width: 640, height: 480 });
  await sleep(1500);
  await page.mouse.move(10, 10, { steps: 20 });
  await page.keyboard.type('bye');
  await sleep(1000);
  await page.evaluate(() => window.rfb.disconnect());
  await page.waitForFunction(() => window.disconnected === true, null, { timeout: 10000 });
}

async function main() {
  const [kind, out] = process.argv.slice(2);
  if (!kind || !out) throw new Error('usage: node record.js xvnc|xvnc-plain|qemu <out.bin>');
  const vnc = startServer(kind);
  const sent = [];
  let relay;
  let browser;
  try {
    await waitForPort(vnc.port, 15000);
    relay = await startRelay(vnc.port, sent);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    await page.goto(`http://127.0.0.1:${relay.address().port}/record.html`);
    await session(page, kind === 'xvnc-plain');
  } finally {
    if (browser) await browser.close();
    if (relay) relay.close();
    vnc.proc.kill();
  }
  // RFB 3.8 with None: the browser's 12-byte version and its 1-byte choice of
  // security type come before ClientInit.
  const all = Buffer.concat(sent);
  const version = all.subarray(0, 12).toString('latin1');
  if (version !== 'RFB 003.008\n' || all[12] !== 1) {
    throw new Error(`unexpected handshake: ${JSON.stringify(version)}, security ${all[12]}`);
  }
  fs.writeFileSync(out, all.subarray(13));
  console.log(`${out}: ${all.length - 13} bytes in ${sent.length} WebSocket messages`);
}

main().catch((e) => { console.error(e); process.exit(1); });
