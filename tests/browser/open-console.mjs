// SPDX-License-Identifier: GPL-2.0-or-later
//
// Opens a console (spice-html5 in Debian's chromium) on a SPICE WebSocket URL and keeps a
// screenshot of it fresh, for a test in another language to look at:
//
//   node open-console.mjs URI PASSWORD DIR
//
// Prints "canvas" once spice-html5 draws, "error: ..." when it fails.  Every second it writes
// DIR/console.png (atomically); it stops when DIR/stop appears, after 180 s, or on SIGTERM.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { consoleUrl, launch, serveConsole } from './lib.mjs';

const [uri, password, dir] = process.argv.slice(2);
if (!uri || password === undefined || !dir) {
	console.error('usage: node open-console.mjs URI PASSWORD DIR');
	process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = await serveConsole();
const browser = await launch();
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
try {
	const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
	await page.goto(consoleUrl(server, uri, password));
	let canvas = false;
	const end = Date.now() + 180000;
	while (!stopping && Date.now() < end && !existsSync(join(dir, 'stop'))) {
		const state = await page.evaluate(() => window.vdiConsole && window.vdiConsole.state);
		if (state === 'error') {
			console.log(`error: ${await page.evaluate(() => window.vdiConsole.error)}`);
			break;
		}
		if (!canvas && await page.evaluate(() => !!document.querySelector('#spice-screen canvas'))) {
			canvas = true;
			console.log('canvas');
		}
		if (canvas) {
			await page.screenshot({ path: join(dir, 'console.tmp.png') });
			renameSync(join(dir, 'console.tmp.png'), join(dir, 'console.png'));
		}
		await sleep(1000);
	}
} finally {
	await browser.close();
	server.close();
}
