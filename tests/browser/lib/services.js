// console-gw, nginx and HAProxy as this suite runs them: each on a free port of
// 127.0.0.1, in the foreground, with its files in the scratch directory. The
// proxies run the example configurations from etc/ with only the certificate,
// ports and log paths substituted.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { Child, consoleGw, freePort, repoRoot, substitute } = require('./harness');

// Runs start(port) on a free port; again on another one should something else
// have taken it in between.
async function onFreePort(start) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (e) {
      if (attempt === 3 || !/already in use/i.test(e.message)) throw e;
    }
  }
}

// A console-gw process. `extra` is added to the [gateway] table.
function startGateway(scratch, name, { secretFile, extra = '' }) {
  return onFreePort((port) => startGatewayOn(port, scratch, name, { secretFile, extra }));
}

async function startGatewayOn(port, scratch, name, { secretFile, extra }) {
  const config = scratch.write(`${name}.toml`, `[gateway]
listen = "127.0.0.1"
port = ${port}
log_level = "info"
${extra}
[tokens]
key_file = "${secretFile}"
`);
  const child = new Child(`console-gw (${name})`, consoleGw, ['--config', config], scratch.path(`${name}.log`));
  await child.waitForOutput(/listening on 127\.0\.0\.1:\d+/).catch(async (e) => {
    await child.stop();
    throw e;
  });
  return { name, port, config, child, origin: `http://127.0.0.1:${port}` };
}

// nginx with etc/nginx/console-gw.conf included in an http { } block, as
// Debian's nginx.conf includes conf.d/*.conf.
function startNginx(scratch, options) {
  return onFreePort((port) => startNginxOn(port, scratch, options));
}

async function startNginxOn(port, scratch, { certificate, gatewayPort }) {
  const dir = path.join(scratch.dir, 'nginx');
  fs.mkdirSync(dir, { recursive: true });
  const example = fs.readFileSync(path.join(repoRoot, 'etc', 'nginx', 'console-gw.conf'), 'utf8');
  const accessLog = path.join(dir, 'access.log');
  const site = scratch.write('nginx/console-gw.conf', substitute(example, [
    ['listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`],
    ['/etc/ssl/certs/console.example.com.pem', certificate.cert],
    ['/etc/ssl/private/console.example.com.key', certificate.key],
    ['/var/log/nginx/console-gw.access.log', accessLog],
    ['proxy_pass http://127.0.0.1:6080;', `proxy_pass http://127.0.0.1:${gatewayPort};`],
  ], 'etc/nginx/console-gw.conf'));
  // Root in a container: the workers may run as root too, so they can use
  // the scratch directory.
  const conf = scratch.write('nginx/nginx.conf', `user root root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${site};
}
`);
  const child = new Child('nginx', 'nginx', ['-e', 'stderr', '-p', dir, '-c', conf, '-g', 'daemon off;'],
    scratch.path('nginx.log'));
  await child.waitForPort(port).catch(async (e) => {
    await child.stop();
    throw e;
  });
  return { name: 'nginx', port, child, accessLog, origin: `https://127.0.0.1:${port}` };
}

// HAProxy with etc/haproxy/console-gw.cfg, logging to its standard output.
function startHaproxy(scratch, options) {
  return onFreePort((port) => startHaproxyOn(port, scratch, options));
}

async function startHaproxyOn(port, scratch, { certificate, gatewayPort }) {
  const example = fs.readFileSync(path.join(repoRoot, 'etc', 'haproxy', 'console-gw.cfg'), 'utf8');
  const cfg = scratch.write('haproxy.cfg', substitute(example, [
    ['log /dev/log local0', 'log stdout format raw local0'],
    ['bind :443 ssl crt /etc/haproxy/certs/console.example.com.pem',
      `bind 127.0.0.1:${port} ssl crt ${certificate.pem}`],
    ['server gw1 127.0.0.1:6080', `server gw1 127.0.0.1:${gatewayPort}`],
  ], 'etc/haproxy/console-gw.cfg'));
  const child = new Child('haproxy', 'haproxy', ['-f', cfg, '-db'], scratch.path('haproxy.log'));
  await child.waitForPort(port).catch(async (e) => {
    await child.stop();
    throw e;
  });
  return { name: 'haproxy', port, child, origin: `https://127.0.0.1:${port}` };
}

module.exports = { startGateway, startNginx, startHaproxy };
