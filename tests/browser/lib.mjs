// SPDX-License-Identifier: GPL-2.0-or-later
//
// What the browser tests share: a static server for the bare console page and Debian's
// spice-html5, and Debian's chromium launched through playwright-core (never a downloaded one).
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { Server as TlsServer, createServer as createTlsServer } from 'node:https';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SPICE_HTML5 = '/usr/share/spice-html5';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css' };

/* Serves /console.html (tests/browser/console.html) and /spice-html5/* on 127.0.0.1, any port; over HTTPS
 * when tls is { cert, key } (PEM file names). */
export function serveConsole(tls = null) {
	const page = join(new URL('.', import.meta.url).pathname, 'console.html');
	const ticketFix = join(new URL('../../web/', import.meta.url).pathname, 'spice-ticket.js');
	const serve = (req, res) => {
		const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
		let file = null;
		if (path === '/console.html')
			file = page;
		else if (path === '/spice-ticket.js')
			file = ticketFix;
		else if (path.startsWith('/spice-html5/'))
			file = normalize(join(SPICE_HTML5, path.slice('/spice-html5/'.length)));
		if (!file || !(file === page || file === ticketFix || file.startsWith(SPICE_HTML5 + '/')) || !existsSync(file) ||
		    !statSync(file).isFile()) {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
		res.end(readFileSync(file));
	};
	const server = tls ? createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, serve)
		: createServer(serve);
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/*
 * Serves the real pages (web/) and /spice-html5/* on 127.0.0.1, any port, with api(req, body)
 * answering /api/v1/... in the broker's place: it returns [status, json].
 */
export function serveWeb(api) {
	const web = normalize(join(new URL('.', import.meta.url).pathname, '..', '..', 'web'));
	const server = createServer((req, res) => {
		const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
		if (path.startsWith('/api/v1/')) {
			let body = '';
			req.on('data', (d) => { body += d; });
			req.on('end', () => {
				const [status, json] = api(req.method, path.slice('/api/v1'.length), body);
				res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
			});
			return;
		}
		const file = path.startsWith('/spice-html5/') ? normalize(join(SPICE_HTML5, path.slice('/spice-html5/'.length)))
			: normalize(join(web, path));
		if (!(file.startsWith(SPICE_HTML5 + '/') || file.startsWith(web + '/')) || !existsSync(file) ||
		    !statSync(file).isFile()) {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
		res.end(readFileSync(file));
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export function consoleUrl(server, uri, password) {
	const scheme = server instanceof TlsServer ? 'https' : 'http';
	return `${scheme}://127.0.0.1:${server.address().port}/console.html?uri=${encodeURIComponent(uri)}` +
		`&password=${encodeURIComponent(password)}`;
}

/*
 * A home directory for chromium whose NSS database (~/.pki/nssdb, where chromium on Linux keeps the
 * user's own certificate authorities) trusts the CA in the PEM file ca to identify web sites, as a
 * user who imports their site's CA does: chromium then checks the servers' chains and names as it
 * would any other's.  Made with certutil (libnss3-tools) in a new directory under dir (the test's);
 * returns its path.
 */
export function homeTrusting(ca, dir) {
	const home = mkdtempSync(join(dir, 'chromium-home-'));
	const db = join(home, '.pki', 'nssdb');
	mkdirSync(db, { recursive: true });
	for (const args of [['-N', '-d', `sql:${db}`, '--empty-password'],
		['-A', '-d', `sql:${db}`, '-n', 'vdi test CA', '-t', 'C,,', '-i', ca]]) {
		const r = spawnSync('certutil', args, { encoding: 'utf8' });
		if (r.error)
			throw new Error(`certutil: ${r.error.message} (tools/install-deps installs libnss3-tools)`);
		if (r.status !== 0)
			throw new Error(`certutil ${args.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
	}
	return home;
}

// Debian's chromium, headless; extra: more command line arguments; home: its HOME (homeTrusting()),
// else the caller's.
export async function launch(extra = [], home = null) {
	for (const need of [CHROMIUM, join(SPICE_HTML5, 'main.js')])
		if (!existsSync(need))
			throw new Error(`${need} is missing: tools/install-deps installs Debian's chromium and spice-html5`);
	return chromium.launch({
		executablePath: CHROMIUM,
		env: home ? { ...process.env, HOME: home } : process.env,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync', ...extra],
	});
}
