// SPDX-License-Identifier: GPL-2.0-or-later
//
// The web pages end to end in Debian's chromium, against a vdi-broker and vdi-gateway with real
// desktops (test-browser-web starts them and checks the store and libvirt afterwards):
//
//   node web-e2e.mjs BROKER_URL DIR POOL COLD_POOL NEW_POOL TEMPLATE
//
// POOL is a pooled pool with a desktop started ahead, for the group "lab"; COLD_POOL one whose
// desktops are made when asked for; NEW_POOL is the name the admin gives the pool they create
// from TEMPLATE.  Users: u01 and u02 (passwords "u01-pw",
// "u02-pw", group "lab"), the admin adm ("adm-pw").  Prints "ok: ..." per step and
// "connect-to-first-frame-ms: N"; exits 0 when every step holds.  Screenshots go to DIR:
// login.png, desktops.png, console.png (the guest's banner in the browser), admin.png, templates.png (with the
// maintenance desktop), maintenance-console.png, templates-rollout.png, templates-versions.png.  Then the admin
// starts the template's maintenance desktop, opens its console, shuts it down (virsh shutdown, as from inside),
// publishes from it and watches the rollout; publishes from a disk, schedules a publish, cancels it, rolls back
// (templatesThroughThePage).
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './lib.mjs';

const [base, dir, pool, coldPool, newPool, template] = process.argv.slice(2);
if (!base || !dir || !pool || !coldPool || !newPool || !template) {
	console.error('usage: node web-e2e.mjs BROKER_URL DIR POOL COLD_POOL NEW_POOL TEMPLATE');
	process.exit(2);
}
const check = (cond, what) => {
	if (!cond)
		throw new Error(what);
	console.log(`ok: ${what}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits until fn() (run in node) returns something true; returns it, or throws naming what (a string, or a
// function giving it when the wait ends).
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

// The text tesseract reads in png, or why it read none.  --psm 4 (one column of lines): by default a screen full of
// banner lines is taken for columns, and "TEST-GUEST" comes out apart from its "READY".
function ocr(png) {
	const r = spawnSync('tesseract', [png, '-', '--psm', '4'], { encoding: 'utf8' });
	if (r.error)
		throw new Error(`tesseract: ${r.error.message} (tools/install-deps installs it)`);
	if (r.status !== 0)
		return `(tesseract failed: ${r.signal || `exit ${r.status}`}: ${(r.stderr || '').trim()})`;
	return r.stdout || '';
}

// Screenshots the console's picture until OCR reads needle in it; keeps the last one as file.
async function consoleShows(page, needle, file, ms) {
	let text = '';
	await until(async () => {
		await page.screenshot({ path: join(dir, file) });
		text = ocr(join(dir, file));
		return text.includes(needle);
	}, () => `the console shows "${needle}" (OCR read: ${JSON.stringify(text.slice(-300))})`, ms);
}

async function login(page, user, password) {
	await page.goto(base + '/');
	await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	await page.fill('#username', user);
	await page.fill('#password', password);
	await page.click('#login-button');
	await page.waitForSelector('#desktops:not([hidden])', { timeout: 10000 });
}

// The page's own view of the API, with its cookie.
const apiGet = (page, path) => page.evaluate(async (p) => {
	const r = await fetch(`/api/v1${p}`);
	return { status: r.status, json: await r.json().catch(() => null) };
}, path);

// Where the console's picture is, against the area it must fill.
const layout = (page) => page.evaluate(() => {
	const c = document.querySelector('#spice-screen canvas'), a = document.getElementById('spice-area');
	if (!c)
		return null;
	const cr = c.getBoundingClientRect(), ar = a.getBoundingClientRect();
	return { cw: cr.width, ch: cr.height, cx: cr.left - ar.left, cy: cr.top - ar.top, aw: ar.width, ah: ar.height };
});
function fills(l) {
	// As large as fits: touches both sides in one direction, inside in the other, centred.
	const wide = Math.abs(l.cw - l.aw) <= 2, tall = Math.abs(l.ch - l.ah) <= 2;
	return (wide || tall) && l.cw <= l.aw + 2 && l.ch <= l.ah + 2 &&
		Math.abs(l.cx * 2 + l.cw - l.aw) <= 3 && Math.abs(l.cy * 2 + l.ch - l.ah) <= 3;
}

// datetime-local's value for a time (ms), in the local time as the page reads it.
function localInput(ms) {
	const d = new Date(ms), two = (n) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

// The maintenance desktop of template, started from the page: running, its state shown, its console one click away.
async function maintenanceRunning(m, tbox, template) {
	const part = `${tbox} .maintenance`;
	let shown = '';
	await until(async () => {
		shown = await m.textContent(`${part} .maintenance-state`);
		return await m.getAttribute(part, 'data-state') === 'running' && await m.isVisible(`${part} a.open-console`);
	}, async () => `the maintenance desktop of ${template} running in the templates section (it says: "${shown}"; ` +
		`error: "${await m.textContent(`${part} .maintenance-error`)}")`, 120000);
	const stored = (await apiGet(m, `/admin/templates/${template}`)).json.maintenance;
	check(stored && stored.state === 'running' && shown.startsWith('running') && shown.includes(stored.host) &&
		shown.includes(`version ${stored.version}`) && shown.includes(`started by ${stored.started_by}`) &&
		stored.started_by === 'adm' && !(await m.isVisible(`${part} button.edit`)),
	`the templates section shows the maintenance desktop as the API does ("${shown}")`);
	return stored;
}

// The maintenance desktop (started before: startMaintenance), its console, publish from it once it is shut down,
// the rollout; then publish from a disk, a scheduled publish and its cancel, and rollback, through the templates
// section.  Ends with the template back on the version published from the maintenance desktop.
async function templatesThroughThePage(m, ctx, template, dir) {
	const tbox = `article.template[data-template="${template}"]`;
	const part = `${tbox} .maintenance`;
	const stored = async () => (await apiGet(m, `/admin/templates/${template}`)).json;
	const row = (v) => `${tbox} table.versions tbody tr[data-version="${v}"]`;
	const cells = (v) => m.$eval(row(v), (r) => [...r.cells].map((c) => c.textContent));
	const maint = await maintenanceRunning(m, tbox, template);
	const old = (await stored()).version;
	await m.locator('#templates-section').screenshot({ path: join(dir, 'templates.png') });

	// Its console, in a tab of its own: the test guest's banner.
	const [c] = await Promise.all([ctx.waitForEvent('page'), m.click(`${part} a.open-console`)]);
	await c.waitForURL(/\/console\.html\?template=/, { timeout: 10000 });
	await consoleShows(c, 'TEST-GUEST READY', 'maintenance-console.png', 240000);
	check((await c.textContent('#title')).includes(template),
		`"Open console" opened the maintenance desktop's console (${c.url()}): it shows the guest's banner`);

	// Publish from it while it runs: refused with the server's words; the choice and the note stay, also through
	// a redraw of the section (every 5 s).
	const note = 'web-e2e: from the maintenance desktop';
	await m.check(`${tbox} input[name=source][value=maintenance]`);
	await m.fill(`${tbox} input[name=note]`, note);
	check(!(await m.isVisible(`${tbox} input[name=disk]`)), 'publishing from the maintenance desktop asks for no disk');
	await m.click(`${tbox} button.publish`);
	await m.waitForSelector(`${tbox} .template-error:not([hidden])`, { timeout: 30000 });
	const refused = await m.textContent(`${tbox} .template-error`);
	const drawn = await m.evaluate(() => window.vdiAdmin.redrawn.templates);
	await until(() => m.evaluate((n) => window.vdiAdmin.redrawn.templates > n, drawn), 'a redraw of the templates', 12000);
	check(refused.startsWith(`Cannot publish ${template}: `) && refused.includes('shut down') &&
		(await stored()).version === old && (await stored()).maintenance.state === 'running' &&
		await m.isChecked(`${tbox} input[name=source][value=maintenance]`) &&
		await m.inputValue(`${tbox} input[name=note]`) === note,
	`publish from a running maintenance desktop is refused ("${refused}"); a redraw keeps the form`);

	// Shut down from inside (the guest powers off on ACPI's power button): the page says stopped, offers Start.
	const off = spawnSync('virsh', ['-c', maint.host, 'shutdown', maint.domain], { encoding: 'utf8' });
	check(off.status === 0, `virsh shutdown ${maint.domain} (${(off.stderr || off.stdout).trim()})`);
	await until(async () => await m.getAttribute(part, 'data-state') === 'stopped' &&
		await m.isVisible(`${part} button.edit-start`) && !(await m.isVisible(`${part} a.open-console`)),
	'the maintenance desktop stopped in the templates section', 120000);
	check(true, 'the page shows the maintenance desktop stopped, with Start and Discard');
	await c.close();

	// Publish from it: the new version is current, the maintenance desktop goes.
	const before = Number((await cells(old))[4]);
	await m.click(`${tbox} button.publish`);
	const next = old + 1;
	await until(async () => (await m.$$(row(next))).length === 1 &&
		(await cells(next))[5] === 'yes' && (await cells(next))[2] === note,
	`version ${next} published from the maintenance desktop and current in the templates section`, 300000);
	check((await stored()).version === next && (await m.textContent(`${tbox} .template-done`)).includes(`Version ${next}`),
		`the admin published version ${next} from the maintenance desktop, with a note`);
	await until(async () => (await stored()).maintenance === null && await m.getAttribute(part, 'data-state') === 'none' &&
		await m.isVisible(`${part} button.edit`), 'the maintenance desktop gone after the publish', 60000);
	check(true, 'the maintenance desktop is gone; the page offers to start a new one');

	// The rollout: free desktops are replaced by ones on the new version, so the old one's count goes down and
	// the new one's up.
	let now = before, onNext = 0;
	await until(async () => {
		now = Number((await cells(old))[4]);
		onNext = Number((await cells(next))[4]);
		return now < before && onNext > 0 &&
			(await stored()).versions.find((v) => v.version === old).desktops <= now;
	}, () => `version ${old}'s desktops going down (${before}, now ${now}) and version ${next}'s up (${onNext})`,
	300000);
	await m.locator('#templates-section').screenshot({ path: join(dir, 'templates-rollout.png') });
	check(true, `the rollout: version ${old} runs on ${now} desktops (${before} at the publish), version ${next} ` +
		`on ${onNext}`);

	const disk = join(dir, 'publish-source.qcow2');
	copyFileSync((await stored()).versions.find((v) => v.version === 1).disk, disk);
	await m.check(`${tbox} input[name=source][value=disk]`);

	// Nothing changes on a refusal; the server's words show under the form, which keeps what was typed.
	await m.fill(`${tbox} input[name=disk]`, 'not/absolute.qcow2');
	await m.click(`${tbox} button.publish`);
	await m.waitForSelector(`${tbox} .template-error:not([hidden])`, { timeout: 10000 });
	const wrong = await m.textContent(`${tbox} .template-error`);
	check(wrong.startsWith(`Cannot publish ${template}: `) && wrong.length > `Cannot publish ${template}: `.length &&
		await m.inputValue(`${tbox} input[name=disk]`) === 'not/absolute.qcow2' && (await stored()).version === next,
		`a refused publish shows the server's error ("${wrong}") and changes nothing`);

	// Publish now: the request waits for the copy; the new version is then current.
	const third = next + 1;
	await m.fill(`${tbox} input[name=disk]`, disk);
	await m.fill(`${tbox} input[name=note]`, `web-e2e: version ${third}`);
	await m.click(`${tbox} button.publish`);
	await until(async () => (await m.$$(row(third))).length === 1 &&
		await m.$eval(row(third), (r, n) => r.cells[5].textContent === 'yes' && r.cells[2].textContent === n,
			`web-e2e: version ${third}`),
	`version ${third} published and current in the templates section`, 240000);
	check((await stored()).version === third && (await m.textContent(`${tbox} .template-done`)).includes(`Version ${third}`),
		`the admin published version ${third} from a disk, with a note`);

	// Scheduled for tomorrow: listed as scheduled with its time, then cancelled.
	await m.fill(`${tbox} input[name=disk]`, disk);
	await m.fill(`${tbox} input[name=at]`, localInput(Date.now() + 86400000));
	await m.click(`${tbox} button.publish`);
	const states = () => m.$$eval(`${tbox} table.versions tbody tr`, (rows) => rows.map((r) => r.cells[1].textContent));
	await until(async () => (await states()).some((s) => s.startsWith('scheduled for ')) &&
		await m.isVisible(`${tbox} button.cancel-publish`), 'a scheduled version in the templates section', 10000);
	check((await stored()).versions.some((v) => v.state === 'scheduled' && v.at > Date.now() / 1000) &&
		(await stored()).version === third, 'the admin scheduled a publish for tomorrow (listed with its time)');
	await m.screenshot({ path: join(dir, 'templates-versions.png'), fullPage: true });
	await m.click(`${tbox} button.cancel-publish`);
	await until(async () => !(await m.isVisible(`${tbox} button.cancel-publish`)) &&
		!(await stored()).versions.some((v) => v.state === 'scheduled'), 'the scheduled publish cancelled', 10000);
	check(true, 'and cancelled it');

	// Roll back: the version published from the maintenance desktop is current again.
	await m.click(`${tbox} button.rollback`);
	await until(async () => (await stored()).version === next &&
		await m.$eval(row(next), (r) => r.cells[5].textContent === 'yes'), `the rollback to version ${next}`, 30000);
	check(true, `the admin rolled the template back to version ${next}`);
}

const browser = await launch();
let status = 0;
const trouble = [];
try {
	const ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const ctxB = await browser.newContext({ viewport: { width: 1024, height: 700 } });
	const ctxAdmin = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
	// What the pages could not load, and what they complained about: said when a step fails.
	for (const c of [ctxA, ctxB, ctxAdmin]) {
		c.on('page', (p) => {
			p.on('dialog', (d) => d.accept());
			p.on('response', (r) => { if (r.status() >= 400 && !r.url().includes('/api/')) trouble.push(`${r.status()} ${r.url()}`); });
			p.on('pageerror', (e) => trouble.push(`page error: ${e.message}`));
		});
	}
	const a = await ctxA.newPage();

	// --- user u01: wrong password, then in ---
	await a.goto(base + '/');
	await a.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	await a.fill('#username', 'u01');
	await a.fill('#password', 'not-the-password');
	await a.click('#login-button');
	await a.waitForSelector('#login-error:not([hidden])', { timeout: 10000 });
	check((await a.textContent('#login-error')).includes('Wrong user name or password'), 'a wrong password says so');
	await a.fill('#password', '');
	await a.screenshot({ path: join(dir, 'login.png') });
	await login(a, 'u01', 'u01-pw');
	const row = `#pools tbody tr[data-pool="${pool}"]`;
	await a.waitForSelector(row, { timeout: 10000 });
	check(!(await a.isVisible('#admin-link')), 'u01 (no admin) has no link to the administration');
	await a.screenshot({ path: join(dir, 'desktops.png') });

	// --- Connect: the prestarted desktop's console, timed to its first frame ---
	const clicked = Date.now();
	await a.click(`${row} button.connect`);
	await a.waitForURL(/\/console\.html\?id=\d+$/, { timeout: 60000 });
	const id = Number(new URL(a.url()).searchParams.get('id'));
	let first;
	try {
		first = await until(() => a.evaluate(() => window.vdiConsole && window.vdiConsole.firstFrame &&
			performance.timeOrigin + window.vdiConsole.firstFrame), 'a first frame', 120000);
	} catch (e) {
		await a.screenshot({ path: join(dir, 'console-no-frame.png') });
		const vc = await a.evaluate(() => window.vdiConsole && { state: window.vdiConsole.state,
			connects: window.vdiConsole.connects, error: window.vdiConsole.error,
			canvas: !!document.querySelector('#spice-screen canvas') });
		throw new Error(`${e.message}; console: ${JSON.stringify(vc)}`);
	}
	console.log(`connect-to-first-frame-ms: ${Math.round(first - clicked)}`);
	check(id > 0, `Connect opened the console of desktop ${id}`);
	await consoleShows(a, 'TEST-GUEST READY', 'console.png', 120000);
	check(true, 'the console shows the guest\'s banner');
	let l = await layout(a);
	check(l && fills(l), `the picture fills the window (${JSON.stringify(l)})`);
	await a.setViewportSize({ width: 800, height: 900 });
	l = await until(async () => { const x = await layout(a); return x && fills(x) && x.aw < 801 && x; },
		'the picture follows the resize', 5000);
	check(true, `after a resize it fills the new window (${JSON.stringify(l)})`);
	await a.setViewportSize({ width: 1280, height: 800 });

	// Ctrl-Alt-Del reaches the guest (its init prints a line for it).
	await a.click('#cad');
	await consoleShows(a, 'CTRL-ALT-DEL', 'cad.png', 30000);
	check(true, 'Ctrl-Alt-Del reaches the guest');

	// --- user u02, meanwhile: never sees u01's desktop ---
	const b = await ctxB.newPage();
	await login(b, 'u02', 'u02-pw');
	await b.waitForSelector(row, { timeout: 10000 });
	const mineB = await b.$$eval('#mine tbody tr', (rows) => rows.map((r) => r.dataset.id));
	check(!mineB.includes(String(id)), `u02's page does not list desktop ${id}`);
	const listB = await apiGet(b, '/desktops');
	check(listB.status === 200 && !listB.json.desktops.some((d) => d.id === id), 'nor does u02\'s API');
	check((await apiGet(b, `/desktops/${id}/console.vv`)).status === 404, `u02 gets 404 for desktop ${id}'s .vv`);
	await b.goto(`${base}/console.html?id=${id}`);
	await b.waitForSelector('#console-error:not([hidden])', { timeout: 10000 });
	check((await b.textContent('#console-error')).includes(`no desktop ${id} of yours`) &&
		await b.evaluate(() => window.vdiConsole.connects === 0), `u02 cannot open desktop ${id}'s console`);
	await b.goto(`${base}/admin.html`);
	await b.waitForSelector('#not-admin:not([hidden])', { timeout: 10000 });
	check(!(await b.isVisible('#admin')) && (await b.$$('#pools tbody tr')).length === 0,
		'the administration page shows a non-admin nothing');
	check((await apiGet(b, '/admin/pools')).status === 403, 'and the admin API answers 403');

	// --- u02 connects to a pool with nothing started: progress while it is made and boots ---
	await b.goto(base + '/');
	const cold = `#pools tbody tr[data-pool="${coldPool}"]`;
	await b.waitForSelector(cold, { timeout: 10000 });
	const coldClicked = Date.now();
	await b.click(`${cold} button.connect`);
	await b.waitForSelector('#progress:not([hidden])', { timeout: 10000 });
	await b.waitForSelector(`${cold} .state progress`, { timeout: 10000 });
	const progress = await b.textContent('#progress');
	await b.screenshot({ path: join(dir, 'preparing.png') });
	check(/Preparing desktop \d+ of /.test(progress), `while it is made, the page says so ("${progress}") with a progress bar`);
	await b.waitForURL(/\/console\.html\?id=\d+$/, { timeout: 240000 });
	await consoleShows(b, 'TEST-GUEST READY', 'cold.png', 180000);
	console.log(`cold-connect-to-banner-ms: ${Date.now() - coldClicked}`);
	check(true, 'then its console opens by itself and shows the guest');

	// --- the connection drops: a fresh token, connected again ---
	await a.evaluate(() => window.vdiConsole.conn.ws.close());
	await until(() => a.evaluate(() => window.vdiConsole.connects === 2 && window.vdiConsole.state === 'connected' &&
		window.vdiConsole.firstFrame), 'a reconnection', 30000);
	await consoleShows(a, 'TEST-GUEST READY', 'reconnected.png', 60000);
	check(true, 'after a dropped connection the console reconnects with a fresh token');

	// --- back to the list: the .vv link, Release, logout ---
	await a.click('#back');
	const mineRow = `#mine tbody tr[data-id="${id}"]`;
	await a.waitForSelector(mineRow, { timeout: 10000 });
	const vv = await a.getAttribute(`${mineRow} a.vv`, 'href');
	const vvReply = await a.evaluate(async (h) => { const r = await fetch(h); return { s: r.status, t: r.headers.get('content-type'), b: await r.text() }; }, vv);
	check(vvReply.s === 200 && vvReply.t.startsWith('application/x-virt-viewer') && vvReply.b.includes('[virt-viewer]'),
		'the remote-viewer link gives a .vv file');
	await a.click(`${mineRow} button.release`);
	await until(async () => (await a.$$(mineRow)).length === 0, 'the released desktop leaves the list', 30000);
	check(true, `Release gave desktop ${id} back`);
	await a.click('#logout');
	await a.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	check((await apiGet(a, '/desktops')).status === 401, 'logged out: the API says 401');

	// --- the admin: creates a pool, watches it provision, resets a desktop ---
	const m = await ctxAdmin.newPage();
	await login(m, 'adm', 'adm-pw');
	check(await m.isVisible('#admin-link'), 'the admin has a link to the administration');
	await m.click('#admin-link');
	await m.waitForSelector('#admin:not([hidden])', { timeout: 10000 });
	await m.fill('#pool-name', newPool);
	await m.selectOption('#pool-template', template);
	await m.selectOption('#pool-type', 'pooled');
	await m.fill('#pool-size', '2');
	await m.fill('#pool-prestart', '2');
	await m.fill('#pool-groups', 'lab');
	await m.click('#pool-create');
	await m.waitForSelector(`#pools tbody tr[data-pool="${newPool}"]`, { timeout: 10000 });
	check(!(await m.isVisible('#pool-error')), `the admin created pool ${newPool}`);
	const seen = new Set();
	const drows = `#desktops tbody tr[data-pool="${newPool}"]`;
	await until(async () => {
		const states = await m.$$eval(drows, (rows) => rows.map((r) => r.querySelector('.state span').textContent));
		states.forEach((s) => seen.add(s));
		return states.length === 2 && states.every((s) => s === 'free');
	}, `both desktops of ${newPool} provisioned and started (seen: ${[...seen]})`, 240000);
	check(seen.has('provisioning') || seen.has('starting'),
		`the admin watched them provision (states seen: ${[...seen].join(', ')})`);
	await m.screenshot({ path: join(dir, 'admin.png'), fullPage: true });

	// --- templates: each with its versions; the template was added, so it has version 1 ---
	const tbox = `article.template[data-template="${template}"]`;
	const v1 = `${tbox} table.versions tbody tr[data-version="1"]`;
	await m.waitForSelector(v1, { timeout: 10000 });
	let shown, stored;
	await until(async () => {
		shown = await m.$eval(v1, (r) => [...r.cells].map((c) => c.textContent));
		stored = (await apiGet(m, `/admin/templates/${template}`)).json.versions.find((v) => v.version === 1);
		return shown[2] === (stored.note || '—') && shown[4] === String(stored.desktops) &&
			shown[5] === (stored.current ? 'yes' : '');
	}, () => `the templates section shows version 1 as the API does (page: ${JSON.stringify(shown)}, ` +
		`API: ${JSON.stringify(stored)})`, 10000);
	check(stored.desktops > 0, `the templates section lists ${template} version 1: note "${shown[2]}", ` +
		`${shown[4]} desktops, current "${shown[5]}"`);
	// The maintenance desktop boots while the admin goes on (TCG boots are slow): templatesThroughThePage uses it.
	check(await m.isVisible(`${tbox} .maintenance button.edit`) &&
		(await m.textContent(`${tbox} .maintenance-state`)).startsWith('None'),
	'the templates section says the template has no maintenance desktop, and offers to start one');
	await m.click(`${tbox} .maintenance button.edit`);
	await until(async () => (await apiGet(m, `/admin/templates/${template}`)).json.maintenance !== null ||
		await m.isVisible(`${tbox} .maintenance-error`), 'a maintenance desktop asked for', 30000);
	check(!(await m.isVisible(`${tbox} .maintenance-error`)), 'the admin started the template\'s maintenance desktop');
	const victim = await m.getAttribute(drows, 'data-id');
	const vrow = `#desktops tbody tr[data-id="${victim}"]`;
	await m.click(`${vrow} button.reset`);
	const after = new Set();
	await until(async () => {
		const s = await m.$$eval(`${vrow} .state span`, (e) => e.map((x) => x.textContent));
		s.forEach((x) => after.add(x));
		return after.has('resetting') && s[0] === 'free';
	}, `desktop ${victim} reset (seen: ${[...after]})`, 240000);
	check(true, `the admin reset desktop ${victim} (states: ${[...after].join(', ')})`);
	await m.selectOption('#audit-action', 'reset');
	await m.click('#audit-show');
	await until(async () => (await m.$$eval('#audit tbody tr', (rows) => rows.map((r) => r.textContent)))
		.some((t) => t.includes(`desktop:${victim}`) && t.includes('adm')), 'the reset in the audit log', 10000);
	check(true, 'the audit log, filtered by action, shows the reset');
	const prow = `#pools tbody tr[data-pool="${newPool}"]`;
	// As an admin edits the size: they select what the box says, the page redraws (every 5 s) before they
	// type, and what they type must replace the old size (a redraw that dropped the selection made "23" of it).
	const sizeBox = `${prow} input.size`;
	await m.click(sizeBox);
	await m.keyboard.press('Control+A');
	const drawn = await m.evaluate(() => window.vdiAdmin.redrawn.pools);
	await until(() => m.evaluate((n) => window.vdiAdmin.redrawn.pools > n, drawn), 'a redraw of the pools table', 12000);
	await m.keyboard.type('3');
	check(await m.inputValue(sizeBox) === '3', 'a redraw while the admin edits a pool\'s size keeps their selection');
	await m.click(`${prow} button.resize`);
	let sizeNow;
	await until(async () => {
		sizeNow = (await apiGet(m, '/admin/pools')).json.pools.find((p) => p.name === newPool)?.size;
		return sizeNow === 3;
	}, async () => `pool ${newPool} resized (its size: ${sizeNow}; page error: ${await m.textContent('#admin-error')})`,
		10000);
	check(await m.inputValue(`${prow} input.size`) === '3', `the admin resized pool ${newPool} to 3`);
	await m.click(`${prow} button.delete`);
	await until(async () => (await m.$$(`#pools tbody tr[data-pool="${newPool}"]`)).length === 0,
		`pool ${newPool} deleted`, 120000);
	check(true, `the admin deleted pool ${newPool}`);

	// --- hosts: the one libvirt host answers; the admin drains it and resumes it ---
	const hrow = '#hosts tbody tr[data-uri="qemu:///system"]';
	await until(async () => (await m.$$(hrow)).length === 1, 'the host in the hosts table', 10000);
	check(await m.textContent(`${hrow} td:nth-child(2)`) === 'yes', 'the hosts table says qemu:///system answers');
	await m.click(`${hrow} button.drain`);
	await until(async () => (await apiGet(m, '/admin/hosts')).json.hosts[0].draining === true &&
		(await m.textContent(`${hrow} td:nth-child(3)`)) === 'yes', 'the host draining', 10000);
	check(true, 'the admin drained qemu:///system (the API and the table say so)');
	await m.click(`${hrow} button.resume`);
	await until(async () => (await apiGet(m, '/admin/hosts')).json.hosts[0].draining === false &&
		(await m.textContent(`${hrow} td:nth-child(3)`)) === 'no', 'the host resumed', 10000);
	check(true, 'and resumed it');

	await templatesThroughThePage(m, ctxAdmin, template, dir);
} catch (e) {
	console.log(`not ok: ${e.message}`);
	for (const t of trouble)
		console.log(`  ${t}`);
	status = 1;
} finally {
	await browser.close();
}
process.exit(status);
