// A VNC server that shows what input reaches it: TigerVNC's Xvnc (Debian's
// tigervnc-standalone-server) on a free display and a free port of 127.0.0.1,
// with xev (x11-utils) windows on it whose standard output lists every key and
// pointer event the X server delivered. Both are children of this test run
// (harness.js's Child), so they go when it ends, whatever way it ends.
'use strict';

const { Child, freePort } = require('./harness');

// Xvnc with no VNC authentication, RFB only on loopback, no X over TCP. Xvnc
// picks the display number itself (-displayfd) and prints it on its standard
// output once it serves; another run's Xvnc or X server is never disturbed.
async function startXvnc(scratch, { width = 800, height = 600 } = {}) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = new Child(`Xvnc (:${port})`, 'Xvnc', [
      '-displayfd', '1', '-nolisten', 'tcp',
      '-SecurityTypes', 'None', '-localhost', '-interface', '127.0.0.1', '-rfbport', String(port),
      '-geometry', `${width}x${height}`, '-depth', '24', '-desktop', 'cgw-xvnc',
    ], scratch.path('xvnc.log'));
    try {
      await child.waitForPort(port);
      const [, display] = await child.waitForOutput(/^(\d+)$/m);
      return { port, display: `:${display}`, child, width, height };
    } catch (e) {
      await child.stop();
      if (attempt === 3 || !/already in use/i.test(e.message)) throw e;
    }
  }
}

// An xev window at `geometry` (X geometry, "WxH+X+Y"), reporting keyboard and
// pointer events only. Resolves once the window is mapped on the screen.
// `reverse`: drawn black instead of white, so that it shows on the screen.
async function startXev(scratch, xvnc, name, { geometry, reverse = false }) {
  const args = ['-display', xvnc.display, '-geometry', geometry, '-name', name,
    '-event', 'keyboard', '-event', 'mouse', '-event', 'structure'];
  if (reverse) args.push('-rv');
  const child = new Child(`xev (${name})`, 'xev', args, scratch.path(`xev-${name}.log`));
  await child.waitForOutput(/MapNotify event/).catch(async (e) => {
    await child.stop();
    throw e;
  });
  return child;
}

// The input events in xev's output since `mark` (a length of its output):
// [{ type: 'KeyPress', keysym: 'q' }, { type: 'ButtonPress', button: 1 }, ...].
function inputEvents(xev, mark = 0) {
  const events = [];
  const text = xev.output.slice(mark);
  const blocks = text.split(/\n(?=\S)/);
  for (const block of blocks) {
    const type = block.match(/^(KeyPress|KeyRelease|ButtonPress|ButtonRelease|MotionNotify) event/);
    if (!type) continue;
    const keysym = block.match(/\(keysym 0x[0-9a-f]+, ([^)]+)\)/);
    const button = block.match(/\bbutton (\d+)/);
    events.push({
      type: type[1],
      ...(keysym && { keysym: keysym[1] }),
      ...(button && { button: Number(button[1]) }),
    });
  }
  return events;
}

module.exports = { startXvnc, startXev, inputEvents };
