// SPDX-License-Identifier: GPL-2.0-or-later
// The console: the system's spice-html5 (served by vdi-broker under /spice-html5/) on the
// gateway URL of a fresh console token.  The picture is scaled to fill the window (and the guest
// asked for the window's size when it runs a SPICE agent); full screen shows the desktop alone,
// at the screen's size (the guest asked for it likewise); a dropped connection or an expired
// ticket is answered with a fresh token and a new connection.  ?id=N opens the user's desktop N,
// ?template=NAME the maintenance desktop of template NAME (admins, from the admin page).
//
// Another viewer of the desktop (a second tab, remote-viewer) takes it over: the gateway closes
// this page's sockets with code 4000, and the page does not reconnect (two viewers would take
// turns for ever) but says so and offers "Take it back", a new connection that takes the desktop
// over in turn.  A pool that refuses a second viewer answers the console request with 409 and
// "… open in another viewer": the page says that and offers to try again.
//
// window.vdiConsole tells tests (and the curious) how it goes: state ('connecting', 'connected',
// 'reconnecting', 'taken-over', 'failed'), connects, firstFrame (ms since the page started
// loading, for the first frame of the current connection), takenOver (times), asked (the size
// last asked of the guest's agent: {w, h}), error.
import * as Spice from '/spice-html5/main.js';
import { $, api, header, show, whoami } from '/api.js';
import { padSpiceTickets } from '/spice-ticket.js';

// spice-html5 writes its WebSocket's URL to the browser's console when the socket fails
// (spiceconn.js: "Can't connect to websocket on URL: …", "Unable to connect to …"), and that URL
// holds the console token (GET /spice?token=T).  So spice-html5 is given the URL with the token
// hidden, and the sockets it opens connect to the real one, whose url they also show hidden.
const HIDDEN = 'hidden';
const realUrls = new Map();   // the URL shown (token hidden) -> the real one, of the latest token
// The gateway's close code when another viewer took the desktop (gateway/relay.c).
const TAKEN_OVER = 4000;

function hideToken(url) {
	try {
		const u = new URL(url);
		if (!u.searchParams.has('token'))
			return String(url);
		u.searchParams.set('token', HIDDEN);
		return u.href;
	} catch (e) {
		return String(url);
	}
}

const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
	constructor(url, protocols) {
		super(realUrls.get(String(url)) ?? url, protocols);
		// Before spice-html5's own listener (which sees no close code), so that its error
		// report finds the page taken over rather than retrying.
		const connection = vc.connects;
		this.addEventListener('close', (e) => {
			if (e.code === TAKEN_OVER)
				takenOver(connection);
		});
	}

	get url() {
		return hideToken(super.url);
	}
};

padSpiceTickets(Spice);

// The URL to give spice-html5 for a token's URL.
function shownUrl(url) {
	const shown = hideToken(url);
	realUrls.clear();
	realUrls.set(shown, url);
	return shown;
}

// ?id=N: the user's desktop N; ?template=NAME: the maintenance desktop of template NAME (admins only).
const params = new URLSearchParams(location.search);
const id = params.get('id');
const template = params.get('template');
const consolePath = template !== null ? `/admin/templates/${encodeURIComponent(template)}/edit/console`
	: `/desktops/${encodeURIComponent(id)}/console`;
const vc = window.vdiConsole = { state: 'connecting', connects: 0, firstFrame: null, takenOver: 0, error: null,
	conn: null };
let failures = 0;
let retryTimer = null, stableTimer = null;
let leaving = false;

function status(text) {
	$('status').textContent = text;
}

function fail(text) {
	vc.state = 'failed';
	vc.error = text;
	status('Not connected');
	show($('console-error'), text);
}

function stopConnection() {
	if (vc.conn) {
		try { vc.conn.stop(); } catch (e) { /* already closed */ }
		vc.conn = null;
	}
}

// Not connected, because another viewer has the desktop: text says so, the button (label)
// connects again.
function otherViewer(text, label) {
	if (document.fullscreenElement)
		document.exitFullscreen().catch(() => {});
	clearTimeout(retryTimer);
	clearTimeout(stableTimer);
	stopConnection();
	vc.state = 'taken-over';
	status('Not connected');
	show($('console-error'), '');
	$('taken-over-text').textContent = text;
	$('take-back').textContent = label;
	$('taken-over').hidden = false;
	$('take-back').focus();
}

// A socket of connection number connection was closed because another viewer opened the desktop.
function takenOver(connection) {
	if (connection !== vc.connects || leaving || vc.state === 'taken-over')
		return;
	vc.takenOver++;
	otherViewer('This desktop was opened in another window.', 'Take it back');
}

function takeBack() {
	$('taken-over').hidden = true;
	failures = 0;
	status('Connecting…');
	connect();
}

function canvas() {
	return document.querySelector('#spice-screen canvas');
}

// Scales the desktop's picture to the largest size that fits the area, centred.  A transform
// keeps spice-html5's mouse coordinates (offsetX/Y) in the desktop's own pixels.
function fit() {
	const c = canvas(), area = $('spice-area'), screen = $('spice-screen');
	if (!c || !c.width || !c.height)
		return;
	const s = Math.min(area.clientWidth / c.width, area.clientHeight / c.height);
	screen.style.width = `${c.width}px`;
	screen.style.height = `${c.height}px`;
	screen.style.transform = `translate(${Math.max(0, (area.clientWidth - c.width * s) / 2)}px, ` +
		`${Math.max(0, (area.clientHeight - c.height * s) / 2)}px) scale(${s})`;
	vc.scale = s;
	vc.fitted = { w: c.width, h: c.height };
}

// With a SPICE agent in the guest, ask it for a display of the area's size (multiples of 8), once
// the area has kept its size for 300 ms.
let agentTimer = null;
function askGuestSize() {
	clearTimeout(agentTimer);
	agentTimer = setTimeout(() => {
		const sc = vc.conn, area = $('spice-area');
		if (!sc || !sc.agent_connected)
			return;
		const w = area.clientWidth - area.clientWidth % 8, h = area.clientHeight - area.clientHeight % 8;
		if (w > 0 && h > 0) {
			sc.resize_window(0, w, h, 32, 0, 0);
			vc.asked = { w, h };
		}
	}, 300);
}

// The first frame: the canvas exists and something not black is on it (checked on a thumbnail
// every animation frame, for a minute at most: a guest may keep a black screen).
function watchFirstFrame(connection) {
	const probe = document.createElement('canvas');
	probe.width = 32;
	probe.height = 24;
	const ctx = probe.getContext('2d', { willReadFrequently: true });
	const until = performance.now() + 60000;
	const look = () => {
		if (connection !== vc.connects || leaving || vc.state === 'taken-over' || performance.now() > until)
			return;
		const c = canvas();
		if (c && c.width) {
			ctx.drawImage(c, 0, 0, probe.width, probe.height);
			const px = ctx.getImageData(0, 0, probe.width, probe.height).data;
			for (let i = 0; i < px.length; i += 4) {
				if (px[i] || px[i + 1] || px[i + 2]) {
					vc.firstFrame = performance.now();
					fit();
					return;
				}
			}
		}
		requestAnimationFrame(look);
	};
	requestAnimationFrame(look);
}

function retry(why) {
	if (leaving || vc.state === 'taken-over')
		return;
	clearTimeout(stableTimer);
	stopConnection();
	failures++;
	if (failures > 8)
		return fail(`The connection to your desktop keeps failing (${why}). Reload the page to try again.`);
	vc.state = 'reconnecting';
	const wait = Math.min(500 * 2 ** (failures - 1), 8000);
	status(`Reconnecting (${why})…`);
	clearTimeout(retryTimer);
	retryTimer = setTimeout(connect, wait);
}

// A fresh console token (and SPICE ticket) from the broker, then spice-html5 on it.
async function connect() {
	vc.state = 'connecting';
	const r = await api('POST', consolePath);
	if (vc.state === 'taken-over' || leaving)
		return;
	if (r.status === 401) {
		location.href = '/';
		return;
	}
	if (r.status === 403 && template !== null)
		return fail('Only administrators open maintenance desktops.');
	if (r.status === 404)
		return fail(template !== null ? `Template ${template} has no maintenance desktop (${r.json.error || 404}).`
			: `There is no desktop ${id} of yours.`);
	if (r.status === 409 && /in another viewer/.test(r.json.error || ''))
		return otherViewer(`${r.json.error}. Close it there, then try again.`, 'Try again');
	if (r.status === 409)
		return retry(`the desktop is not running: ${r.json.error}`);
	if (r.status !== 200)
		return retry(r.json.error || `the server answered ${r.status}`);
	$('spice-screen').replaceChildren();
	vc.connects++;
	vc.firstFrame = null;
	const connection = vc.connects;
	try {
		vc.conn = new Spice.SpiceMainConn({
			uri: shownUrl(r.json.url),
			password: r.json.password,
			screen_id: 'spice-screen',
			onsuccess: () => {
				if (connection !== vc.connects)
					return;
				// Failures count until a connection has lasted: a desktop that drops every
				// connection at once must not be retried for ever.
				clearTimeout(stableTimer);
				stableTimer = setTimeout(() => { failures = 0; }, 30000);
				vc.state = 'connected';
				vc.error = null;
				show($('console-error'), '');
				status('Connected');
			},
			onerror: (e) => {
				if (connection === vc.connects)
					retry(String((e && e.message) || e || 'connection lost'));
			},
			onagent: askGuestSize,
		});
		window.spice_connection = vc.conn;
	} catch (e) {
		return retry(String(e));
	}
	watchFirstFrame(connection);
}

async function title() {
	if (template !== null) {
		$('title').textContent = `Maintenance desktop of ${template}`;
		document.title = `vdi — maintenance desktop of ${template}`;
		$('back').textContent = '← Administration';
		$('back').href = '/admin.html#templates-section';
		return;
	}
	const r = await api('GET', '/desktops');
	const d = r.status === 200 && r.json.desktops.find((x) => String(x.id) === id);
	if (d) {
		$('title').textContent = `Desktop ${d.id} (${d.pool})`;
		document.title = `vdi — desktop ${d.id} (${d.pool})`;
	}
}

async function main() {
	if (template !== null ? !template : !/^[1-9][0-9]*$/.test(id || ''))
		return fail('No desktop given: open the console from your desktops.');
	const me = await whoami();
	if (me.status === 401) {
		location.href = '/';
		return;
	}
	header(me.status === 200 ? me.json : null);
	$('cad').addEventListener('click', () => {
		Spice.sendCtrlAltDel(vc.conn);
		const c = canvas();
		if (c)
			c.focus();
	});
	// The desktop alone fills the screen (Esc leaves); the area's new size is asked of the guest.
	$('fullscreen').addEventListener('click', () => $('spice-area').requestFullscreen().catch(() => {}));
	$('take-back').addEventListener('click', takeBack);
	// The window's size, full screen, the header's height: whatever changes the area's size.
	new ResizeObserver(() => { fit(); askGuestSize(); }).observe($('spice-area'));
	window.addEventListener('pagehide', () => {
		leaving = true;
		clearTimeout(retryTimer);
		clearTimeout(stableTimer);
		stopConnection();
	});
	// Back from the browser's back/forward cache: a fresh token and a new connection.
	window.addEventListener('pageshow', (e) => {
		if (!e.persisted)
			return;
		leaving = false;
		failures = 0;
		$('taken-over').hidden = true;
		connect();
	});
	// The guest may change its resolution (a new canvas, or a new size): follow it.
	setInterval(() => {
		const c = canvas();
		if (c && (c.width !== vc.fitted?.w || c.height !== vc.fitted?.h))
			fit();
	}, 500);
	await title();
	await connect();
}

main();
