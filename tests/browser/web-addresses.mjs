// SPDX-License-Identifier: GPL-2.0-or-later
//
// The admin page shows a desktop's IP addresses (issue 16), in Debian's chromium, against the broker
// test-desktop-addresses runs with a desktop on a libvirt network of its own:
//
//   node web-addresses.mjs BROKER_URL DIR ID ADDRESS
//
// The admin adm ("adm-pw") logs in and opens the administration page; desktop ID's row must show ADDRESS
// (what its guest said its lease is) in its Addresses column.  Prints "ok: ..." per step; exits 0 when
// every step holds.  Screenshot: DIR/admin-addresses.png.
import { join } from 'node:path';
import { launch } from './lib.mjs';

const [base, dir, id, address] = process.argv.slice(2);
if (!base || !dir || !id || !address) {
	console.error('usage: node web-addresses.mjs BROKER_URL DIR ID ADDRESS');
	process.exit(2);
}
const check = (cond, what) => {
	if (!cond)
		throw new Error(what);
	console.log(`ok: ${what}`);
};

const browser = await launch();
let status = 0;
const trouble = [];
try {
	const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => trouble.push(`page error: ${e.message}`));
	await page.goto(base + '/');
	await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	await page.fill('#username', 'adm');
	await page.fill('#password', 'adm-pw');
	await page.click('#login-button');
	await page.waitForSelector('#desktops:not([hidden])', { timeout: 10000 });
	await page.goto(`${base}/admin.html`);
	await page.waitForSelector('#admin:not([hidden])', { timeout: 10000 });
	check(true, 'the admin opened the administration page');

	const header = await page.$$eval('#desktops thead th', (ths) => ths.map((th) => th.textContent));
	const column = header.indexOf('Addresses');
	check(column >= 0, `the desktops table has an Addresses column (${header.join(', ')})`);
	const row = `#desktops tbody tr[data-id="${id}"]`;
	await page.waitForSelector(row, { timeout: 10000 });
	// The page refreshes by itself (every 5 s): the broker may read the lease a moment after the test saw it.
	const shown = () => page.$eval(row, (r, c) => r.cells[c].textContent, column);
	const end = Date.now() + 20000;
	let text = await shown();
	while (text !== address && Date.now() < end) {
		await new Promise((r) => setTimeout(r, 250));
		text = await shown();
	}
	await page.screenshot({ path: join(dir, 'admin-addresses.png'), fullPage: true });
	check(text === address, `desktop ${id}'s row shows its address ${address} (it shows "${text}")`);
	check(await page.$eval(row, (r) => r.querySelector('td.addresses') !== null), 'in the cell of class "addresses"');
} catch (e) {
	console.log(`not ok: ${e.message}`);
	for (const t of trouble)
		console.log(`  ${t}`);
	status = 1;
} finally {
	await browser.close();
}
process.exit(status);
