// What the browser tests run against, all real: QEMU domains through libvirtd,
// console-gw processes, nginx and HAProxy with the example configurations from
// etc/, and Chromium. Everything here is made for one test run and taken down
// afterwards, also when a test fails or the run is interrupted.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const repoRoot = process.env.CGW_REPO_ROOT || path.resolve(__dirname, '..', '..', '..');
const consoleGw = process.env.CGW_CONSOLE_GW || path.join(repoRoot, 'build', 'gateway', 'console-gw');
const chromiumPath = process.env.CGW_CHROMIUM || '/usr/bin/chromium';
const artifactsDir = path.join(repoRoot, 'tests', 'artifacts', 'browser');

// --- processes ----------------------------------------------------------------

const children = new Set();

// A process this run started. Its stdout and stderr are kept in `output` (and
// written to a file in the scratch directory); setpriv makes the kernel send it
// SIGTERM should this test process die without cleaning up.
class Child {
  constructor(name, command, args, logFile) {
    this.name = name;
    this.output = '';
    this.exited = null;
    this.log = fs.createWriteStream(logFile);
    this.process = spawn('setpriv', ['--pdeathsig', 'TERM', '--', command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => {
      this.output += chunk.toString();
      this.log.write(chunk);
    };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    this.exitPromise = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exited = { code, signal };
        children.delete(this);
        resolve();
      });
    });
    children.add(this);
  }

  // Waits until the output matches `pattern`; fails at once if the process ends.
  async waitForOutput(pattern, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (this.exited) throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}):\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${pattern} after ${timeoutMs} ms:\n${this.output}`);
      await sleep(50);
    }
  }

  // Waits until 127.0.0.1:port accepts TCP connections, and makes sure that it
  // is this process listening there (it has neither ended nor failed to bind).
  async waitForPort(port, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    const failed = () => this.exited || /already in use/i.test(this.output);
    for (;;) {
      if (failed()) throw new Error(`${this.name} failed (${JSON.stringify(this.exited)}):\n${this.output}`);
      if (await canConnect(port)) break;
      if (Date.now() > deadline) throw new Error(`${this.name}: port ${port} not open after ${timeoutMs} ms:\n${this.output}`);
      await sleep(50);
    }
    await sleep(200);
    if (failed()) throw new Error(`${this.name} failed (${JSON.stringify(this.exited)}):\n${this.output}`);
  }

  async stop() {
    if (!this.exited) {
      this.process.kill('SIGTERM');
      const killed = await Promise.race([this.exitPromise.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        this.process.kill('SIGKILL');
        await this.exitPromise;
      }
    }
    await new Promise((resolve) => this.log.end(resolve));
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// A port nobody listens on right now (console-gw needs a number, not 0).
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// --- the suite-wide log check -------------------------------------------------------

// With CGW_TEST_LOG_ARCHIVE set (scripts/test sets it), every token and secret a
// test uses is remembered and every scratch directory's *.log files are kept, so
// that scripts/check-test-logs can grep the whole suite's logs for them
// (tests/support/log_archive.hpp does the same for the C++ tests).
const logArchive = process.env.CGW_TEST_LOG_ARCHIVE || '';

function recordSecret(secret) {
  if (!logArchive || !secret || secret.includes('\n')) return;
  fs.mkdirSync(logArchive, { recursive: true });
  fs.appendFileSync(path.join(logArchive, 'secrets.txt'), `${secret}\n`, { mode: 0o600 });
}

function archiveLogs(dir) {
  if (!logArchive) return;
  fs.mkdirSync(logArchive, { recursive: true });
  const walk = (current) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const file = path.join(current, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile() && entry.name.endsWith('.log')) {
        const name = `node-${process.pid}-${path.relative(dir, file).replaceAll('/', '_')}`;
        fs.copyFileSync(file, path.join(logArchive, name));
      }
    }
  };
  quietly(() => walk(dir));
}

// --- scratch files --------------------------------------------------------------

const scratchDirs = new Set();

class Scratch {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cgw-browser-'));
    scratchDirs.add(this.dir);
  }

  path(name) {
    return path.join(this.dir, name);
  }

  write(name, text, mode = 0o600) {
    const file = this.path(name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode });
    return file;
  }

  // An HS256 secret as docs/tokens.md makes it: 32 random bytes, base64.
  hs256Secret(name) {
    const secret = crypto.randomBytes(32).toString('base64');
    recordSecret(secret);
    return this.write(name, secret + '\n');
  }

  // A self-signed certificate for 127.0.0.1: the proxies' TLS.
  tlsCertificate(name) {
    const cert = this.path(`${name}.crt`);
    const key = this.path(`${name}.key`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', key, '-out', cert], { stdio: 'ignore' });
    // HAProxy wants certificate and key in one file.
    const pem = this.write(`${name}.pem`, fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8'));
    return { cert, key, pem };
  }

  remove() {
    archiveLogs(this.dir);
    fs.rmSync(this.dir, { recursive: true, force: true });
    scratchDirs.delete(this.dir);
  }
}

// Replaces each [from, to] in text; a `from` that is not there is an error, so
// the tests notice when an example configuration changes under them.
function substitute(text, replacements, what) {
  let out = text;
  for (const [from, to] of replacements) {
    if (!out.includes(from)) throw new Error(`${what}: expected to find ${JSON.stringify(from)}`);
    out = out.split(from).join(to);
  }
  return out;
}

// --- libvirt domains ---------------------------------------------------------------

const domainPrefix = 'cgw-it-browser-';
const ownPrefix = `${domainPrefix}${process.pid}-`;
const domains = new Set();

function virsh(...args) {
  return execFileSync('virsh', ['-q', '-c', 'qemu:///system', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

function quietly(fn) {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function removeDomain(name) {
  quietly(() => virsh('destroy', name));
  quietly(() => virsh('undefine', name));
}

// Domains left behind by a run of this suite that was killed: its pid is gone,
// or is ours now (reused), so the names would clash.
function removeStaleDomains() {
  const names = quietly(() => virsh('list', '--all', '--name')) || '';
  for (const name of names.split('\n')) {
    const match = name.trim().match(new RegExp(`^${domainPrefix}(\\d+)-`));
    if (!match) continue;
    const pid = Number(match[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = e.code !== 'ESRCH';
    }
    if (!alive || pid === process.pid) removeDomain(name.trim());
  }
}

let cachedDomainType = null;
function domainType() {
  if (!cachedDomainType) {
    const lib = path.join(repoRoot, 'scripts', 'lib', 'libvirt.sh');
    cachedDomainType = execFileSync('bash', ['-c', `. '${lib}' && cgw_domain_type`], { encoding: 'utf8' }).trim();
  }
  return cachedDomainType;
}

// A 64 MiB QEMU guest with no disk: SeaBIOS prints its boot messages and stops
// at "No bootable device", which is what the consoles show.
// `os`: more inside <os> after <type> (a serial console's <bios useserial='yes'/>).
function domainXml(type, name, devices, os = '') {
  for (const match of devices.matchAll(/passwd=['"]([^'"]+)['"]/g)) recordSecret(match[1]);
  return `<domain type='${type}'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${os}</os>
  <devices>
    ${devices}
  </devices>
</domain>
`;
}

const vncDevices = `<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
    <video><model type='cirrus'/></video>`;
const spiceDevices = `<graphics type='spice' autoport='yes' listen='127.0.0.1'/>
    <video><model type='qxl'/></video>`;

// `running`: a transient domain (virsh create); otherwise defined, not started.
function makeDomain(scratch, suffix, devices, { running = true, os = '' } = {}) {
  const name = ownPrefix + suffix;
  const file = scratch.write(`${name}.xml`, domainXml(domainType(), name, devices, os));
  domains.add(name);
  virsh(running ? 'create' : 'define', file);
  return { name, uuid: virsh('domuuid', name) };
}

function removeDomains() {
  for (const name of domains) removeDomain(name);
  domains.clear();
}

// --- tokens ------------------------------------------------------------------------

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

// An HS256 token made here, for claims the command line will not make (an
// expiry in the past), as in docs/tokens.md.
function mintHs256(secretFile, claims) {
  const secret = fs.readFileSync(secretFile, 'utf8').trim();
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const signature = crypto.createHmac('sha256', secret).update(input).digest();
  const token = `${input}.${b64url(signature)}`;
  recordSecret(token);
  return token;
}

function consoleGwCli(...args) {
  const output = execFileSync(consoleGw, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  // `console-gw token` prints a token, `console-gw url` a URL with one.
  if (args[0] === 'token') recordSecret(output);
  if (args[0] === 'url') recordSecret((output.match(/token=([\w.-]+)/) || [])[1]);
  return output;
}

// --- PNG --------------------------------------------------------------------------

// Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's screenshots
// are) into { width, height, channels, pixels }.
function decodePng(buffer) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!buffer.subarray(0, 8).equals(signature)) throw new Error('not a PNG');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  for (let at = 8; at < buffer.length;) {
    const length = buffer.readUInt32BE(at);
    const type = buffer.toString('latin1', at + 4, at + 8);
    const data = buffer.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [bitDepth, colourType, , , interlace] = data.subarray(8, 13);
      if (bitDepth !== 8 || interlace !== 0 || (colourType !== 2 && colourType !== 6)) {
        throw new Error(`PNG format not handled: depth ${bitDepth}, colour type ${colourType}, interlace ${interlace}`);
      }
      channels = colourType === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    at += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[row + x - channels] : 0;
      const b = y > 0 ? pixels[row - stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[row - stride + x - channels] : 0;
      let predictor = 0;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new Error(`PNG filter ${filter} unknown`);
      }
      pixels[row + x] = (line[x] + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

// How many distinct RGB colours an image has (counting stops at `limit`).
function distinctColours({ pixels, channels }, limit = 256) {
  const seen = new Set();
  for (let i = 0; i < pixels.length && seen.size < limit; i += channels) {
    seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
  }
  return seen.size;
}

// --- cleanup on the way out ---------------------------------------------------------

// Whatever after() did not get to: on a crash or a signal, children and domains
// still go.
function emergencyCleanup() {
  // SIGTERM, not SIGKILL: nginx's master then takes its workers down with it.
  for (const child of children) quietly(() => child.process.kill('SIGTERM'));
  quietly(removeDomains);
  for (const dir of scratchDirs) {
    archiveLogs(dir);
    quietly(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
}
process.on('exit', emergencyCleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    emergencyCleanup();
    process.exit(128 + os.constants.signals[signal]);
  });
}
// `node --test` runs this file in a child process that reports on its standard
// output; when the runner is killed (a CTest timeout), that pipe breaks. Stop
// then rather than run the remaining tests for nobody.
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
  emergencyCleanup();
  process.exit(1);
});

module.exports = {
  repoRoot,
  consoleGw,
  chromiumPath,
  artifactsDir,
  Child,
  Scratch,
  sleep,
  freePort,
  substitute,
  domainPrefix,
  removeStaleDomains,
  makeDomain,
  removeDomains,
  virsh,
  vncDevices,
  spiceDevices,
  mintHs256,
  consoleGwCli,
  recordSecret,
  decodePng,
  distinctColours,
};
