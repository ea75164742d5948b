// console-gw's console page in a real Chromium: noVNC and spice-html5 showing
// real QEMU guests, straight from console-gw and behind nginx and HAProxy with
// TLS (the example configurations in etc/), and the sentences the page shows
// when a console cannot be opened.
//
// Needs libvirtd running (the CTest fixture `libvirtd` starts it) and, from
// Debian: chromium, nginx, haproxy, novnc, spice-html5. CGW_CONSOLE_GW names the
// console-gw binary, CGW_REPO_ROOT the source tree. Screenshots go to
// tests/artifacts/browser/.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');

const h = require('./lib/harness');
const { startGateway, startNginx, startHaproxy } = require('./lib/services');
const { launchChromium, ConsolePage } = require('./lib/browser');

// Each test's own limit; CTest's (600 s) is for the whole run.
const limit = { timeout: 60_000 };

// What the browser claims in forwarding headers when it goes through a proxy:
// the proxies must not let it choose the address console-gw logs.
const forgedClient = '203.0.113.9';
const forgedHeaders = {
  'X-Forwarded-For': forgedClient,
  Forwarded: `for=${forgedClient};proto=http`,
};

describe('console page in Chromium', { concurrency: false }, () => {
  const scratch = new h.Scratch();
  const tokens = []; // every token used, none of which may reach a log
  let secret;
  let direct; // console-gw on its own: no base path, no trusted proxies
  let secure; // console-gw on its own with its own TLS certificate (https, wss)
  let proxied; // console-gw behind the proxies: base_path, trusted_proxies
  let ticketed; // console-gw that answers SPICE tickets with libvirt's password
  let nginx;
  let haproxy;
  let browser;
  let vnc; // running, VNC
  let spice; // running, SPICE
  let stopped; // defined, not running
  let locked; // running, SPICE with a password

  before(async () => {
    assert.ok(fs.existsSync(h.consoleGw), `console-gw not found at ${h.consoleGw} (set CGW_CONSOLE_GW)`);
    h.removeStaleDomains();
    // The guests first: SeaBIOS has printed its messages by the time a page opens.
    vnc = h.makeDomain(scratch, 'vnc', h.vncDevices);
    spice = h.makeDomain(scratch, 'spice', h.spiceDevices);
    stopped = h.makeDomain(scratch, 'off', h.vncDevices, { running: false });
    locked = h.makeDomain(scratch, 'locked',
      "<graphics type='spice' autoport='yes' listen='127.0.0.1' passwd='not-for-browsers'/>");

    secret = scratch.hs256Secret('token.secret');
    const certificate = scratch.tlsCertificate('proxy');
    direct = await startGateway(scratch, 'gateway-direct', { secretFile: secret });
    const own = scratch.tlsCertificate('gateway');
    secure = await startGateway(scratch, 'gateway-tls', {
      secretFile: secret,
      extra: `cert = "${own.cert}"\nkey = "${own.key}"`,
    });
    proxied = await startGateway(scratch, 'gateway-proxied', {
      secretFile: secret,
      extra: [
        'base_path = "/console-gw"',
        'trusted_proxies = ["127.0.0.1/32"]',
        'public_scheme = "https"',
        'ping_interval = "30s"',
      ].join('\n'),
    });
    ticketed = await startGateway(scratch, 'gateway-ticketed', {
      secretFile: secret,
      extra: '[hosts.local]\nuri = "qemu:///system"\nspice_password_from_libvirt = true\n',
    });
    nginx = await startNginx(scratch, { certificate, gatewayPort: proxied.port });
    haproxy = await startHaproxy(scratch, { certificate, gatewayPort: proxied.port });
    browser = await launchChromium();
  }, { timeout: 90_000 });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    for (const service of [haproxy, nginx, ticketed, proxied, secure, direct]) {
      if (service) await service.child.stop();
    }
    h.removeDomains();
    // The services' logs, next to the screenshots.
    const logs = ['gateway-direct.log', 'gateway-tls.log', 'gateway-proxied.log', 'gateway-ticketed.log', 'nginx.log', 'haproxy.log', 'nginx/access.log'];
    fs.mkdirSync(h.artifactsDir, { recursive: true });
    for (const log of logs) {
      const file = scratch.path(log);
      if (fs.existsSync(file)) fs.copyFileSync(file, `${h.artifactsDir}/${log.replace('/', '-')}`);
    }
    scratch.remove();
  }, { timeout: 60_000 });

  function token(domain, { console: kind = 'vnc' } = {}) {
    const t = h.consoleGwCli('token', '--host', 'local', '--uuid', domain.uuid, '--console', kind,
      '--ttl', '60s', '--signing-key', secret);
    tokens.push(t);
    return t;
  }

  // `console-gw url`, as a web UI's back end would run it, for the public name
  // the browser uses: the proxy's.
  function consoleUrl(proxy, domain, kind = 'vnc') {
    const url = h.consoleGwCli('url', '--host', 'local', '--uuid', domain.uuid, '--console', kind,
      '--config', proxied.config, '--signing-key', secret, '--public-host', `127.0.0.1:${proxy.port}`);
    const match = url.match(/^https:\/\/127\.0\.0\.1:(\d+)\/console-gw\/console\?token=([\w.-]+)$/);
    assert.ok(match, `console-gw url printed ${url}`);
    tokens.push(match[2]);
    return url;
  }

  // Opens `url`, runs `check` on the page, and keeps a screenshot whatever happens.
  async function withPage(name, url, options, check) {
    const page = await ConsolePage.open(browser, url, options);
    try {
      await check(page);
    } catch (e) {
      e.message += `\n--- what the page logged ---\n${page.describe()}`;
      throw e;
    } finally {
      await page.screenshot(name).catch(() => {});
      await page.close();
    }
  }

  async function assertConnected(page, domain) {
    assert.equal(page.response.status(), 200);
    // spice-html5 garbles about one channel's ticket in 256; when a display or
    // inputs channel is refused after the main channel connected, the page
    // shows "Connected" and then starts again ("Connecting…", up to three
    // attempts). Wait out such a retry rather than read its intermediate state.
    let status = await page.settled();
    for (let retry = 0; retry < 2 && status.state === 'connecting'; retry += 1) {
      status = await page.settled();
    }
    assert.equal(status.state, 'connected', `status: ${JSON.stringify(status)}`);
    assert.equal(await page.page.title(), domain.name);
    assert.equal(await page.page.textContent('#name'), domain.name);
    assert.equal(await page.page.isHidden('#reconnect'), true);
    // The page's Content-Security-Policy (its script by hash, modules and
    // WebSockets from its own origin) is in force and blocked nothing.
    const csp = page.response.headers()['content-security-policy'] || '';
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'/, `policy: ${csp}`);
    assert.ok(!/Content Security Policy/i.test(page.describe()), 'the policy blocked something');
  }

  async function assertScreenShows(page, container, name) {
    const colours = await page.waitForPicture(container, name);
    assert.ok(colours.canvas >= 2, `the console's canvas has ${colours.canvas} colour(s): ${JSON.stringify(colours)}`);
    assert.ok(colours.screenshot >= 2, `its screenshot has ${colours.screenshot} colour(s): ${JSON.stringify(colours)}`);
  }

  function tail(text, lines = 10) {
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  // The gateway's log lines written since `mark` (a length of its output).
  function logSince(gateway, mark) {
    return gateway.child.output.slice(mark);
  }

  async function waitForLog(gateway, mark, pattern) {
    const deadline = Date.now() + 5000;
    while (!pattern.test(logSince(gateway, mark)) && Date.now() < deadline) await h.sleep(50);
    return logSince(gateway, mark);
  }

  it('shows a VNC console straight from console-gw (noVNC)', limit, async () => {
    const mark = direct.child.output.length;
    await withPage('vnc-direct', `${direct.origin}/console?token=${token(vnc)}`, {}, async (page) => {
      await assertConnected(page, vnc);
      await assertScreenShows(page, '#screen', 'vnc-direct');
      const log = await waitForLog(direct, mark, /outcome=connected/);
      const line = new RegExp(`session=\\d+ client=127\\.0\\.0\\.1:\\d+ host=local uuid=${vnc.uuid} ` +
        `path=direct outcome=connected domain="${vnc.name}" console=vnc via="tcp 127\\.0\\.0\\.1:\\d+ rfb=none"`);
      assert.match(log, line);
    });
  });

  it('shows a VNC console straight from console-gw over its own TLS (https, wss)', limit, async () => {
    const mark = secure.child.output.length;
    const origin = `https://127.0.0.1:${secure.port}`;
    await withPage('vnc-tls', `${origin}/console?token=${token(vnc)}`, {}, async (page) => {
      await assertConnected(page, vnc);
      await assertScreenShows(page, '#screen', 'vnc-tls');
      const log = await waitForLog(secure, mark, /outcome=connected/);
      assert.match(log, new RegExp(`uuid=${vnc.uuid} path=\\w+ outcome=connected domain="${vnc.name}" console=vnc`));
    });
  });

  for (const [proxyName, proxyOf] of [['nginx', () => nginx], ['HAProxy', () => haproxy]]) {
    it(`shows a VNC console through ${proxyName} with TLS under /console-gw/`, limit, async () => {
      const proxy = proxyOf();
      const mark = proxied.child.output.length;
      const url = consoleUrl(proxy, vnc);
      const name = `vnc-${proxy.name}`;
      await withPage(name, url, { headers: forgedHeaders }, async (page) => {
        await assertConnected(page, vnc);
        await assertScreenShows(page, '#screen', name);
        const log = await waitForLog(proxied, mark, /outcome=connected/);
        // trusted_proxies: the browser's address from the proxy, the proxy's as proxy=.
        const line = new RegExp(`session=\\d+ client=127\\.0\\.0\\.1 proxy=127\\.0\\.0\\.1:\\d+ host=local ` +
          `uuid=${vnc.uuid} path=\\w+ outcome=connected domain="${vnc.name}" console=vnc`);
        assert.match(log, line);
        assert.ok(!log.includes(forgedClient), `the browser chose its own address:\n${log}`);
      });
      // The example configurations keep tokens out of the proxies' logs. A
      // WebSocket is logged when it ends, so a moment after the page closed.
      const readLog = () => (proxy.accessLog ? fs.readFileSync(proxy.accessLog, 'utf8') : proxy.child.output);
      const deadline = Date.now() + 5000;
      while (!readLog().includes('/console-gw/websockify') && Date.now() < deadline) await h.sleep(100);
      const proxyLog = readLog();
      assert.ok(proxyLog.includes('/console-gw/websockify'), `${proxy.name} logged no WebSocket:\n${tail(proxyLog)}`);
      assert.ok(!proxyLog.includes('token='), `${proxy.name}'s log holds a token:\n${tail(proxyLog)}`);
    });
  }

  // spice-html5 opens one WebSocket per SPICE channel (main, display, inputs,
  // cursor): through a proxy, all of them must pass.
  for (const [route, name] of [['straight', 'spice-direct'], ['through nginx', 'spice-nginx']]) {
    it(`shows a SPICE console ${route} (spice-html5)`, limit, async () => {
      const gateway = route === 'straight' ? direct : proxied;
      const mark = gateway.child.output.length;
      const url = route === 'straight'
        ? `${direct.origin}/console?token=${token(spice, { console: 'spice' })}`
        : consoleUrl(nginx, spice, 'spice');
      await withPage(name, url, {}, async (page) => {
        await assertConnected(page, spice);
        assert.equal(await page.page.locator('#screen #spice-screen').count(), 1);
        await assertScreenShows(page, '#spice-screen', name);
        const log = await waitForLog(gateway, mark, /console=spice/);
        const connected = log.match(new RegExp(
          `uuid=${spice.uuid} path=\\w+ outcome=connected domain="${spice.name}" console=spice`, 'g')) || [];
        assert.ok(connected.length >= 2, `${connected.length} SPICE channel(s) connected:\n${tail(log)}`);
      });
    });
  }

  it('says so when the token has expired (4402)', limit, async () => {
    const now = Math.floor(Date.now() / 1000);
    // Expired beyond the 30 s leeway; the command line cannot make such a token.
    const expired = h.mintHs256(secret, { sub: `local-${vnc.uuid}`, iat: now - 300, exp: now - 120 });
    tokens.push(expired);
    await withPage('expired-token', `${direct.origin}/console?token=${expired}`, {}, async (page) => {
      assert.equal(page.response.status(), 401);
      const status = await page.status();
      assert.equal(status.state, 'failed');
      assert.equal(status.code, '4402');
      assert.match(status.text, /expired/);
      assert.equal(await page.page.isVisible('#reconnect'), true);
    });
  });

  it('says so when the virtual machine is not running (4409)', limit, async () => {
    await withPage('not-running', `${direct.origin}/console?token=${token(stopped)}`, {}, async (page) => {
      assert.equal(page.response.status(), 409);
      const status = await page.status();
      assert.equal(status.state, 'failed');
      assert.equal(status.code, '4409');
      assert.match(status.text, /not running/);
    });
  });

  // The page tries three times (spice-html5 sometimes garbles an empty ticket),
  // then says why.
  it('says so when a SPICE console asks for a password', limit, async () => {
    const mark = direct.child.output.length;
    const url = `${direct.origin}/console?token=${token(locked, { console: 'spice' })}`;
    await withPage('spice-password', url, {}, async (page) => {
      const status = await page.settled();
      assert.equal(status.state, 'failed', `status: ${JSON.stringify(status)}`);
      assert.match(status.text, /refused the connection \(permission denied\).*password/);
      const log = await waitForLog(direct, mark, /(outcome=connected[\s\S]*){3}/);
      assert.equal((log.match(/outcome=connected domain="[^"]*locked"/g) || []).length, 3, log);
    });
  });

  // The gateway answers every channel's ticket; the browser never has the password.
  it('shows a SPICE console with a password when the gateway answers its tickets', limit, async () => {
    const mark = ticketed.child.output.length;
    const url = `${ticketed.origin}/console?token=${token(locked, { console: 'spice' })}`;
    await withPage('spice-ticketed', url, {}, async (page) => {
      await assertConnected(page, locked);
      await assertScreenShows(page, '#spice-screen', 'spice-ticketed');
      const log = await waitForLog(ticketed, mark, /(outcome=connected[\s\S]*){2}/);
      const answered = log.match(/outcome=connected domain="[^"]*locked" console=spice via="tcp [\d.:]+ ticket"/g) || [];
      assert.ok(answered.length >= 2, `${answered.length} SPICE channel(s) with the gateway's ticket:\n${tail(log)}`);
      assert.ok(!log.includes('not-for-browsers'), 'the password is in the log');
    });
  });

  it('says so when the virtual machine does not exist (4404)', limit, async () => {
    const missing = { uuid: crypto.randomUUID(), name: 'missing' };
    await withPage('unknown-domain', `${direct.origin}/console?token=${token(missing)}`, {}, async (page) => {
      assert.equal(page.response.status(), 404);
      const status = await page.status();
      assert.equal(status.state, 'failed');
      assert.equal(status.code, '4404');
      assert.match(status.text, /not found/);
    });
  });

  it('says so when the virtual machine stops, and again on reconnect (1000, then 4409)', limit, async () => {
    h.virsh('start', stopped.name);
    await withPage('stopped-while-open', `${direct.origin}/console?token=${token(stopped)}`, {}, async (page) => {
      await assertConnected(page, stopped);
      h.virsh('destroy', stopped.name);
      let status = await page.settled({ from: 'connected' });
      assert.equal(status.state, 'closed', `status: ${JSON.stringify(status)}`);
      assert.equal(status.code, '1000');
      assert.match(status.text, /console was closed/);
      // Reconnecting: the page's token is still valid, the domain is off.
      await page.page.click('#reconnect');
      status = await page.settled({ from: 'connecting' });
      assert.equal(status.state, 'failed', `status: ${JSON.stringify(status)}`);
      assert.equal(status.code, '4409');
      assert.match(status.text, /not running/);
    });
  });

  it('keeps every token out of console-gw\'s logs', limit, () => {
    assert.ok(tokens.length >= 6);
    for (const gateway of [direct, proxied, ticketed]) {
      for (const t of tokens) {
        assert.ok(!gateway.child.output.includes(t.split('.')[2]), `${gateway.name}'s log holds a token`);
      }
    }
  });
});
