// Makes the README's picture (docs/images/demo-novnc.png): noVNC's own page in
// Chromium, through a running console-gw, showing the demo VM's shell after a
// command typed in the browser. Not a test; run it by hand after scripts/demo:
//
//   (cd tests/browser && npm ci --no-audit --no-fund)
//   node tests/browser/demo-screenshot.js 'http://localhost:6080/vnc.html?autoconnect=true&resize=scale&path=…' \
//        docs/images/demo-novnc.png
'use strict';

const { launchChromium } = require('./lib/browser');
const { sleep } = require('./lib/harness');

async function main([url, out]) {
  if (!url || !out) throw new Error('usage: demo-screenshot.js VNC_HTML_URL OUTPUT.png');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    // The browser resolves no names (lib/browser.js): localhost is 127.0.0.1.
    await page.goto(url.replace('//localhost:', '//127.0.0.1:'), { waitUntil: 'load' });
    const canvas = page.locator('#noVNC_container canvas, #noVNC_screen canvas').first();
    await canvas.waitFor({ timeout: 20_000 });
    // noVNC takes the keyboard once its screen has the focus.
    await sleep(2000);
    await canvas.click();
    await page.keyboard.type('uname -a; ls /', { delay: 60 });
    await page.keyboard.press('Enter');
    await sleep(2000);
    await page.screenshot({ path: out });
  } finally {
    await browser.close();
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`demo-screenshot: ${e.message}`);
  process.exit(1);
});
