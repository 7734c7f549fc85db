// SPDX-License-Identifier: GPL-2.0-or-later
//
// The admin page shows the desktops' IP addresses (issue 16), in Debian's chromium, against the broker
// test-pool-networks runs with desktops on a libvirt network of its own:
//
//   node web-addresses.mjs BROKER_URL DIR ID ADDRESS [ID ADDRESS ...]
//
// The admin adm ("adm-pw") logs in and opens the administration page; each desktop ID's row must show
// its ADDRESS (what its guest said its lease is) in its Addresses column, and in its Guest column what its
// guest agent tells (issue 18): the test guest's host name and console user, "vdi-guest (vdiuser)".  Prints "ok: ..." per step;
// exits 0 when every step holds.  Screenshot: DIR/admin-addresses.png.
import { join } from 'node:path';
import { launch } from './lib.mjs';

const [base, dir, ...pairs] = process.argv.slice(2);
if (!base || !dir || pairs.length === 0 || pairs.length % 2 !== 0) {
	console.error('usage: node web-addresses.mjs BROKER_URL DIR ID ADDRESS [ID ADDRESS ...]');
	process.exit(2);
}
const desktops = [];
for (let i = 0; i < pairs.length; i += 2)
	desktops.push({ id: pairs[i], address: pairs[i + 1] });
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
	// The page refreshes by itself (every 5 s): the broker may read a lease a moment after the test saw it.
	const shown = (row) => page.$eval(row, (r, c) => r.cells[c].textContent, column);
	const guestColumn = header.indexOf('Guest');
	check(guestColumn >= 0, 'the desktops table has a Guest column');
	const guestShown = (row) => page.$eval(row, (r, c) => r.cells[c].textContent, guestColumn);
	const results = [];
	for (const { id, address } of desktops) {
		const row = `#desktops tbody tr[data-id="${id}"]`;
		await page.waitForSelector(row, { timeout: 10000 });
		const end = Date.now() + 20000;
		let text = await shown(row);
		while (text !== address && Date.now() < end) {
			await new Promise((r) => setTimeout(r, 250));
			text = await shown(row);
		}
		const classed = await page.$eval(row, (r) => r.querySelector('td.addresses') !== null);
		// The broker asks the guest agents every 10 s; qemu-ga starts after the guest's lease.
		const guestEnd = Date.now() + 30000;
		let guest = await guestShown(row);
		while (guest !== 'vdi-guest (vdiuser)' && Date.now() < guestEnd) {
			await new Promise((r) => setTimeout(r, 250));
			guest = await guestShown(row);
		}
		results.push({ id, address, text, classed, guest });
	}
	await page.screenshot({ path: join(dir, 'admin-addresses.png'), fullPage: true });
	for (const { id, address, text, classed, guest } of results) {
		check(text === address, `desktop ${id}'s row shows its address ${address} (it shows "${text}")`);
		check(classed, `desktop ${id}'s address is in the cell of class "addresses"`);
		check(guest === 'vdi-guest (vdiuser)', `desktop ${id}'s row shows its guest agent's "vdi-guest (vdiuser)" (it shows "${guest}")`);
	}
} catch (e) {
	console.log(`not ok: ${e.message}`);
	for (const t of trouble)
		console.log(`  ${t}`);
	status = 1;
} finally {
	await browser.close();
}
process.exit(status);
