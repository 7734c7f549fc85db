// SPDX-License-Identifier: GPL-2.0-or-later
//
// The console page with the graphical test desktop (Xorg on QXL, spice-vdagent), in Debian's
// chromium against the vdi-broker and vdi-gateway that test-browser-graphical starts:
//
//   node graphical.mjs BROKER_URL DIR GRAPHICAL_POOL TEXT_POOL [CA]
//
// Both pools are pooled with a desktop started ahead, for the group "lab"; u01 ("u01-pw") uses
// them.  With CA (a PEM file), BROKER_URL is https:// and the gateway wss://, both with
// certificates of that CA (the test's own): chromium trusts it through the NSS database of a home
// of its own, as a user who imported their site's CA (lib.mjs homeTrusting), and every step below
// runs over HTTPS and WSS; first a chromium that does not trust it must refuse the page
// (ERR_CERT_AUTHORITY_INVALID), the session cookie must be Secure and the console's sockets wss://.
// Steps:
//  - Connect → first frame, three times on each pool, alternating: prints
//    "connect-to-first-frame-ms text: N" and "connect-to-first-frame-ms graphical: N";
//  - the graphical console at 1280x800, then 1024x700: the page asks the guest's agent for its
//    area's size, the guest's picture (the canvas) takes that size, and the guest itself must
//    report it: the step is written to DIR/mode-K.json ({w, h, what}) and the test answers with
//    DIR/mode-K.ok or DIR/mode-K.fail after asking the guest ("vdi-xrandr" on its serial console);
//  - a second window (a new login) opens the same desktop: the first says it was taken over;
//  - in the second, full screen: the desktop alone fills the screen (1920x1080, chromium's
//    --screen-info), the guest is asked for the screen's size and must report it (mode-3);
//  - the lock: the guest's picture is not the lock's colour (#3366cc); DIR/lock-ready.json
//    ({id, share}) has the test check the guest and turn the pool's lock_on_disconnect on
//    (lock-ready.ok); the console page closes (its last SPICE client leaves), DIR/lock-closed.json
//    has the test wait for the lock (audited desktop-lock, the guest's "vdi-lock: on":
//    lock-closed.ok); the console opened again shows the lock: most of its picture is #3366cc.
// Prints "ok: ..." per step; exits 0 when every step holds.  Screenshots in DIR: graphical.png,
// graphical-1024.png, graphical-taken-over.png, graphical-fullscreen.png, graphical-locked.png.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homeTrusting, launch } from './lib.mjs';

const [base, dir, gfxPool, textPool, ca] = process.argv.slice(2);
if (!base || !dir || !gfxPool || !textPool || base.startsWith('https:') !== !!ca) {
	console.error('usage: node graphical.mjs BROKER_URL DIR GRAPHICAL_POOL TEXT_POOL [CA] (CA with an https:// URL)');
	process.exit(2);
}
const SCREEN = { w: 1920, h: 1080 };
const check = (cond, what) => {
	if (!cond)
		throw new Error(what);
	console.log(`ok: ${what}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(fn, what, ms) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > end)
			throw new Error(`${typeof what === 'function' ? await what() : what}: not within ${ms / 1000} s`);
		await sleep(250);
	}
}

async function login(page, user, password) {
	await page.goto(base + '/');
	await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	await page.fill('#username', user);
	await page.fill('#password', password);
	await page.click('#login-button');
	await page.waitForSelector('#desktops:not([hidden])', { timeout: 10000 });
}

// The console's state; canvas.corners: whether the guest's picture has something not black in its four corners
// (its desktop drawn to the edges: the root window is a solid colour).
const consoleState = (page) => page.evaluate(() => {
	const vc = window.vdiConsole, c = document.querySelector('#spice-screen canvas'), a = document.getElementById('spice-area');
	const lit = (x, y) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)).some((v) => v > 0);
	return vc && { state: vc.state, connects: vc.connects, firstFrame: vc.firstFrame, asked: vc.asked || null,
		agent: !!(vc.conn && vc.conn.agent_connected),
		canvas: c ? { w: c.width, h: c.height, corners: lit(2, 2) && lit(c.width - 3, 2) && lit(2, c.height - 3) &&
			lit(c.width - 3, c.height - 3) } : null,
		area: { w: a.clientWidth, h: a.clientHeight }, takenOver: vc.takenOver,
		fullscreen: document.fullscreenElement ? document.fullscreenElement.id : null };
});

// From "your desktops", Connect on pool until the console's first frame: the time in ms, and the desktop's id.
async function connectTimed(page, pool) {
	await page.goto(base + '/');
	const row = `#pools tbody tr[data-pool="${pool}"]`;
	await page.waitForSelector(row, { timeout: 10000 });
	const clicked = Date.now();
	await page.click(`${row} button.connect`);
	await page.waitForURL(/\/console\.html\?id=\d+$/, { timeout: 60000 });
	const first = await until(() => page.evaluate(() => window.vdiConsole && window.vdiConsole.firstFrame &&
		performance.timeOrigin + window.vdiConsole.firstFrame), async () => `a first frame on ${pool} ` +
		`(${JSON.stringify(await consoleState(page))})`, 120000);
	return { ms: Math.round(first - clicked), id: Number(new URL(page.url()).searchParams.get('id')) };
}

// Asks the test (DIR/NAME.json holding body) and waits for its answer, DIR/NAME.ok (its text returned) or
// DIR/NAME.fail (thrown).
async function ask(name, body, what) {
	const file = join(dir, name);
	writeFileSync(`${file}.json`, JSON.stringify(body));
	await until(() => existsSync(`${file}.ok`) || existsSync(`${file}.fail`), `${what}: the test's answer`, 180000);
	if (existsSync(`${file}.fail`))
		throw new Error(`${what}: ${readFileSync(`${file}.fail`, 'utf8').trim()}`);
	return readFileSync(`${file}.ok`, 'utf8').trim();
}

// The share (0..1) of the guest's picture (the canvas, every pixel) in the lock's colour, #3366cc, and its size.
const LOCK = [0x33, 0x66, 0xcc];
const lockShare = (page) => page.evaluate((lock) => {
	const c = document.querySelector('#spice-screen canvas');
	if (!c || !c.width || !c.height)
		return { share: 0, w: 0, h: 0 };
	const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
	let n = 0;
	for (let i = 0; i < px.length; i += 4)
		if (Math.abs(px[i] - lock[0]) <= 8 && Math.abs(px[i + 1] - lock[1]) <= 8 && Math.abs(px[i + 2] - lock[2]) <= 8)
			n++;
	return { share: n / (c.width * c.height), w: c.width, h: c.height };
}, LOCK);

// The page asked the guest for the area's size and the guest's picture has it; then the guest is asked (by the test,
// on its serial console) what mode it is in.  what names the step.
let step = 0;
async function guestFollows(page, what, want) {
	let s = null;
	s = await until(async () => {
		s = await consoleState(page);
		const area = want || { w: s.area.w - s.area.w % 8, h: s.area.h - s.area.h % 8 };
		return s.state === 'connected' && s.agent && s.asked && s.asked.w === area.w && s.asked.h === area.h &&
			s.canvas && s.canvas.w === area.w && s.canvas.h === area.h && s;
	}, () => `${what}: the guest's picture takes the size asked (${JSON.stringify(s)})`, 90000);
	check(true, `${what}: the page asked the guest for ${s.asked.w}x${s.asked.h} and its picture has that size`);
	step++;
	const said = await ask(`mode-${step}`, { w: s.asked.w, h: s.asked.h, what },
		`${what}: the guest reports ${s.asked.w}x${s.asked.h}`);
	check(true, `${what}: the guest reports ${said}`);
	return s;
}

// Before a screenshot: a while for the guest's picture to be drawn to its corners.  Not a check: after a mode
// change the picture is now and then left with black parts (seen under load); said when it is.
async function drawn(page, what) {
	for (let i = 0; i < 60; i++) {
		if ((await consoleState(page)).canvas?.corners)
			return;
		await sleep(250);
	}
	console.log(`note: ${what}: the guest's picture is not drawn to its corners after 15 s`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Over TLS: a chromium that does not trust the test's CA refuses the broker's page (so the page is the broker's
// TLS with that CA's certificate, and the trust below comes from the NSS database alone).
async function untrustedRefuses() {
	const other = await launch();
	try {
		const page = await other.newPage();
		const why = await page.goto(base + '/').then(() => 'it loaded', (e) => e.message.split('\n')[0]);
		check(why.includes('net::ERR_CERT_AUTHORITY_INVALID'), `a chromium without the test's CA refuses ${base} (${why})`);
	} finally {
		await other.close();
	}
}

// Over TLS: the session cookie is Secure and the console's sockets go to the gateway over wss://.
async function overTls(ctx, page) {
	const cookie = (await ctx.cookies(base)).find((c) => c.name === 'vdi_session');
	check(cookie && cookie.secure && cookie.httpOnly, `the session cookie is Secure and HttpOnly (${JSON.stringify(
		cookie && { secure: cookie.secure, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite })})`);
	const ws = await page.evaluate(() => window.vdiConsole.conn.ws.url);
	check(page.url().startsWith('https://') && ws.startsWith('wss://'), `the console (${page.url()}) is on wss:// (${ws})`);
}

const browser = await launch([`--screen-info={${SCREEN.w}x${SCREEN.h}}`, '--window-size=1280,800'],
	ca ? homeTrusting(ca, dir) : null);
let status = 0;
try {
	if (ca)
		await untrustedRefuses();
	const ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const a = await ctxA.newPage();
	await login(a, 'u01', 'u01-pw');

	// --- Connect → first frame, prestarted desktops, text and graphical in turn ---
	const times = { text: [], graphical: [] };
	let gfxId = 0;
	for (let i = 0; i < 3; i++) {
		for (const [kind, pool] of [['text', textPool], ['graphical', gfxPool]]) {
			const t = await connectTimed(a, pool);
			times[kind].push(t.ms);
			console.log(`connect-to-first-frame-ms ${kind}: ${t.ms}`);
			if (kind === 'graphical')
				gfxId = t.id;
		}
	}
	console.log(`connect-to-first-frame-median-ms text: ${median(times.text)} graphical: ${median(times.graphical)}`);
	check(gfxId > 0, `Connect opened the graphical desktop ${gfxId} (${times.graphical.join(', ')} ms to its first frame)`);
	if (ca)
		await overTls(ctxA, a);

	// --- the guest follows the window ---
	await guestFollows(a, 'at 1280x800');
	await drawn(a, 'at 1280x800');
	await a.screenshot({ path: join(dir, 'graphical.png') });
	await a.setViewportSize({ width: 1024, height: 700 });
	await guestFollows(a, 'at 1024x700');
	await drawn(a, 'at 1024x700');
	await a.screenshot({ path: join(dir, 'graphical-1024.png') });

	// --- a second window on the same desktop takes it over; full screen there ---
	const ctxF = await browser.newContext({ viewport: null });
	const f = await ctxF.newPage();
	await login(f, 'u01', 'u01-pw');
	await f.goto(`${base}/console.html?id=${gfxId}`);
	await until(async () => (await consoleState(f))?.firstFrame, 'the second window\'s first frame', 120000);
	const s = await until(async () => { const x = await consoleState(a); return x.state === 'taken-over' && x; },
		'the first window told it was taken over', 30000);
	check(!(await a.isHidden('#taken-over')) && s.connects === 1,
		`the first window says "${await a.textContent('#taken-over-text')}" and does not reconnect`);
	await a.screenshot({ path: join(dir, 'graphical-taken-over.png') });
	await f.click('#fullscreen');
	// Headless chromium has no window manager to make the window fill the screen: asked as one would be.
	const cdp = await ctxF.newCDPSession(f);
	const { windowId } = await cdp.send('Browser.getWindowForTarget');
	await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: 'fullscreen' } });
	const full = await guestFollows(f, 'full screen', SCREEN);
	check(full.fullscreen === 'spice-area' && full.area.w === SCREEN.w && full.area.h === SCREEN.h,
		`full screen shows the desktop alone, at the screen's ${SCREEN.w}x${SCREEN.h} (${JSON.stringify(full)})`);
	await drawn(f, 'full screen');
	await f.screenshot({ path: join(dir, 'graphical-fullscreen.png') });

	// --- the console closes: the guest's screen is locked, as the console shows when it opens again ---
	const before = await lockShare(f);
	check(before.share < 0.5, `before the lock ${(100 * before.share).toFixed(1)}% of the guest's picture ` +
		`(${before.w}x${before.h}) is the lock's colour`);
	check(true, `the guest is not locked and the pool locks on disconnect: ` +
		await ask('lock-ready', { id: gfxId, share: before.share }, 'before the lock'));
	await f.close();
	check(true, `the console closed: ${await ask('lock-closed', { id: gfxId }, 'the lock after the console closed')}`);
	const g = await ctxF.newPage();
	await g.goto(`${base}/console.html?id=${gfxId}`);
	await until(async () => (await consoleState(g))?.firstFrame, 'the console\'s first frame after the lock', 120000);
	let locked = null;
	await until(async () => (locked = await lockShare(g)).share >= 0.9,
		() => `the console opened again shows the lock (${(100 * locked.share).toFixed(1)}% of its ` +
			`${locked.w}x${locked.h} picture is #3366cc)`, 60000);
	check(true, `the console opened again shows the lock: ${(100 * locked.share).toFixed(1)}% of its ` +
		`${locked.w}x${locked.h} picture is #3366cc`);
	await g.screenshot({ path: join(dir, 'graphical-locked.png') });
} catch (e) {
	console.log(`FAILED: ${e.message}`);
	status = 1;
} finally {
	await browser.close();
}
process.exit(status);
