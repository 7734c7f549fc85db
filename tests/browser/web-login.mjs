// SPDX-License-Identifier: GPL-2.0-or-later
//
// The broker's login and "your desktops" page (web/) in Debian's chromium, for test-broker-api:
//
//   node web-login.mjs BROKER_URL DIR
//
// Expects users ann (ann-secret, group staff) and adm (adm-secret, an admin) on a broker on test:///default
// with the pools lab (everyone), staffonly (staff) and admins (vdiadmin).  Prints a line per step; exits 0 when all hold.
// Screenshots go to DIR.
import { join } from 'node:path';
import { launch } from './lib.mjs';

const [base, dir] = process.argv.slice(2);
if (!base || !dir) {
	console.error('usage: node web-login.mjs BROKER_URL DIR');
	process.exit(2);
}
const check = (cond, what) => {
	if (!cond)
		throw new Error(what);
	console.log(`ok: ${what}`);
};

const browser = await launch();
let status = 0;
try {
	const context = await browser.newContext({ viewport: { width: 1024, height: 700 } });
	const page = await context.newPage();
	await page.goto(base + '/');
	await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	check(await page.isVisible('#username') && !(await page.isVisible('#desktops')), 'the login form shows first');
	await page.screenshot({ path: join(dir, 'login.png') });

	await page.fill('#username', 'ann');
	await page.fill('#password', 'not-her-password');
	await page.click('#login-button');
	await page.waitForSelector('#login-error:not([hidden])', { timeout: 10000 });
	check((await page.textContent('#login-error')).includes('Wrong user name or password'),
		'a wrong password says so');

	await page.fill('#password', 'ann-secret');
	await page.click('#login-button');
	await page.waitForSelector('#desktops:not([hidden])', { timeout: 10000 });
	await page.waitForSelector('#pools tbody tr', { timeout: 10000 });
	check(!(await page.isVisible('#login')), 'logged in, the login form is gone');
	check((await page.textContent('#who')).trim() === 'ann', 'the page names the user');
	const pools = await page.$$eval('#pools tbody tr', (rows) => rows.map((r) => r.dataset.pool));
	check(pools.join() === 'lab,staffonly', `ann sees the pools she may use (${pools.join()})`);
	await page.screenshot({ path: join(dir, 'desktops.png') });

	// A second tab of the session works (the CSRF token is shared); a browser that lost the token
	// is sent to log in again instead of failing on every click.
	const tab = await context.newPage();
	await tab.goto(base + '/');
	await tab.waitForSelector('#desktops:not([hidden])', { timeout: 10000 });
	check(!(await tab.isVisible('#login')), 'a second tab is logged in too');
	await tab.evaluate(() => localStorage.clear());
	await tab.reload();
	await tab.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	check(true, 'without its CSRF token the page asks to log in again');
	await tab.fill('#username', 'ann');
	await tab.fill('#password', 'ann-secret');
	await tab.click('#login-button');
	await tab.waitForSelector('#desktops:not([hidden])', { timeout: 10000 });
	check(true, 'and logging in again mends it');
	await tab.close();

	await page.click('#logout');
	await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	await page.reload();
	await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	check(!(await page.isVisible('#desktops')), 'after logout (and a reload) only the login form shows');

	// The admin page's hosts table: each host's active libvirt networks (test:///default has "default"),
	// and none missing while no pool names a network.
	await page.fill('#username', 'adm');
	await page.fill('#password', 'adm-secret');
	await page.click('#login-button');
	await page.waitForSelector('#desktops:not([hidden])', { timeout: 10000 });
	await page.goto(base + '/admin.html');
	const hrow = '#hosts tbody tr[data-uri="test:///default"]';
	await page.waitForFunction((sel) => document.querySelector(`${sel} td.networks`)?.textContent === 'default',
		hrow, { timeout: 15000 });
	check(await page.textContent(`${hrow} td.missing-networks`) === '',
		'the hosts table shows the host\'s network "default" and none missing');
	// test:///default has no domain capabilities: its hardware is not known (empty), in a column of its own.
	check(await page.textContent(`${hrow} td.hardware`) === '' &&
		await page.textContent('#hosts thead th:nth-child(9)') === 'Hardware',
		'the hosts table has a Hardware column, empty for a host whose hardware is not known');

	// Issue 18: a pool's lock on disconnect and second viewer (the form, then an update), shown in its
	// row; a template's lock command (test-broker-api checks the store afterwards).
	await page.fill('#pool-name', 'kiosk');
	await page.selectOption('#pool-template', 'golden');
	await page.fill('#pool-size', '0');
	await page.selectOption('#pool-lock', 'yes');
	await page.selectOption('#pool-second-viewer', 'refuse');
	await page.click('#pool-create');
	const krow = '#pools tbody tr[data-pool="kiosk"] td.network';
	await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('second viewer refused'),
		krow, { timeout: 10000 });
	check((await page.textContent(krow)).includes('locks when the viewer leaves'),
		'a new pool locks when its viewer leaves and refuses a second viewer, as its row says');
	await page.selectOption('#pool-net-pool', 'kiosk');
	await page.selectOption('#pool-net-lock', 'no');
	await page.click('#pool-net-update');
	await page.waitForFunction((sel) => !document.querySelector(sel)?.textContent.includes('locks'), krow,
		{ timeout: 10000 });
	check((await page.textContent(krow)).includes('second viewer refused'), 'an update turns the lock off, the rest stays');
	const lock = 'article.template[data-template="golden"] form.lock-command';
	await page.fill(`${lock} input`, '/bin/vdi-lock --now');
	await page.click(`${lock} button.set-lock-command`);
	await page.waitForFunction((sel) => document.querySelector(`${sel} input`)?.dataset.edited === undefined, lock,
		{ timeout: 10000 });
	check(await page.inputValue(`${lock} input`) === '/bin/vdi-lock --now', 'a template\'s lock command is set');
} catch (e) {
	console.log(`not ok: ${e.message}`);
	status = 1;
} finally {
	await browser.close();
}
process.exit(status);
