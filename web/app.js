// SPDX-License-Identifier: GPL-2.0-or-later
// The login page and "your desktops": Connect (a desktop from a pool, with progress while it is
// made or started, then the console), Release, the remote-viewer file, logout.
import { $, api, button, csrf, el, header, RUNNING, show, stateCell, TRANSIENT, when, whoami } from '/api.js';

let pollTimer = null;
let connecting = null;   // {pool, id, since, stoppedSince} while Connect waits for a desktop to run
let serverTrouble = false;  // the error line says the server had trouble (cleared when it answers again)

function loginError(status, json) {
	switch (status) {
	case 401: return 'Wrong user name or password.';
	case 403: return 'This account may not log in. Ask your administrator.';
	case 429: return 'Too many failed attempts: wait a few minutes, then try again.';
	case 0: return json.error;
	default: return `The server has trouble (${json.error || status}). Try again in a moment.`;
	}
}

async function login(event) {
	event.preventDefault();
	$('login-button').disabled = true;
	const r = await api('POST', '/login', { username: $('username').value, password: $('password').value });
	$('login-button').disabled = false;
	$('password').value = '';
	if (r.status !== 200) {
		show($('login-error'), loginError(r.status, r.json));
		return;
	}
	csrf.set(r.json.csrf);
	show($('login-error'), '');
	await start();
}

function openConsole(id) {
	location.href = `/console.html?id=${encodeURIComponent(id)}`;
}

// Connect: asks the pool for this user's desktop (the one they have, or a free one), waits while it
// is provisioned or booted, then opens its console.
async function connect(pool, btn) {
	btn.disabled = true;
	show($('desktops-error'), '');
	show($('progress'), `Asking ${pool} for a desktop…`);
	const r = await api('POST', `/pools/${encodeURIComponent(pool)}/desktop`);
	if (r.status === 401)
		return start();
	if (r.status !== 200 && r.status !== 202) {
		btn.disabled = false;
		show($('progress'), '');
		show($('desktops-error'), r.status === 503 ? `Every desktop of ${pool} is in use. Try again later.` :
			`Cannot connect: ${r.json.error || r.status}.`);
		return;
	}
	if (r.status === 200 && RUNNING.has(r.json.state))
		return openConsole(r.json.id);
	connecting = { pool, id: r.json.id, since: Date.now() };
	await refresh();
}

async function release(d) {
	const lose = d.type === 'pooled' ? ' It is reset for the next user: what is on it is lost.' : ' It shuts down and stays yours.';
	if (!confirm(`Release desktop ${d.id} of ${d.pool}?${lose}`))
		return;
	const r = await api('POST', `/desktops/${d.id}/release`);
	if (r.status === 401)
		return start();
	show($('desktops-error'), r.status === 202 ? '' : `Cannot release desktop ${d.id}: ${r.json.error || r.status}.`);
	await refresh();
}

function poolRow(body, p, desktops) {
	const row = body.insertRow();
	row.dataset.pool = p.name;
	row.insertCell().textContent = p.name;
	row.insertCell().textContent = p.type;
	row.insertCell().textContent = `${p.free} of ${p.size}`;
	const state = row.insertCell();
	const mine = desktops.filter((d) => d.pool === p.name);
	if (mine.length)
		stateCell(state, mine.map((d) => d.state).join(', '));
	else
		state.textContent = '—';
	const actions = row.insertCell();
	actions.className = 'actions';
	const b = button('Connect', actions, () => connect(p.name, b), 'connect');
	b.disabled = connecting !== null || (p.free === 0 && mine.length === 0);
}

function desktopRow(body, d) {
	const row = body.insertRow();
	row.dataset.id = d.id;
	row.insertCell().textContent = `Desktop ${d.id}`;
	row.insertCell().textContent = d.pool;
	stateCell(row.insertCell(), d.state);
	row.insertCell().textContent = when(d.assigned_at);
	const actions = row.insertCell();
	actions.className = 'actions';
	if (RUNNING.has(d.state)) {
		button('Open', actions, () => openConsole(d.id), 'open');
		const vv = el('a', 'remote-viewer file', actions, 'vv');
		vv.href = `/api/v1/desktops/${d.id}/console.vv`;
		vv.download = `desktop-${d.id}.vv`;
		vv.title = 'Open with remote-viewer (virt-viewer). It holds a short-lived ticket: download it again later.';
	}
	if (!TRANSIENT.has(d.state))
		button('Release', actions, () => release(d), 'release');
}

function schedule(ms) {
	clearTimeout(pollTimer);
	pollTimer = setTimeout(refresh, ms);
}

async function refresh() {
	const [pools, desktops] = await Promise.all([api('GET', '/pools'), api('GET', '/desktops')]);
	if (pools.status === 401 || desktops.status === 401)
		return start();
	if (pools.status !== 200 || desktops.status !== 200) {
		show($('desktops-error'), `The server has trouble (${pools.json.error || desktops.json.error}).`);
		serverTrouble = true;
		return schedule(5000);
	}
	if (serverTrouble) {
		show($('desktops-error'), '');
		serverTrouble = false;
	}
	const list = desktops.json.desktops;
	if (connecting) {
		const d = list.find((x) => x.id === connecting.id);
		if (d && RUNNING.has(d.state)) {
			show($('progress'), `Desktop ${d.id} is ready: opening its console…`);
			return openConsole(d.id);
		}
		// "stopped" comes and goes between being made and being started; one that stays stopped
		// (its guest shut down, an admin stopped it) ends the wait like an error.
		if (d && d.state === 'stopped')
			connecting.stoppedSince = connecting.stoppedSince || Date.now();
		else if (d)
			connecting.stoppedSince = 0;
		if (!d || d.state === 'error' || (!TRANSIENT.has(d.state) && d.state !== 'stopped') ||
		    (connecting.stoppedSince && Date.now() - connecting.stoppedSince > 30000)) {
			show($('desktops-error'), `Desktop ${connecting.id} of ${connecting.pool} did not start. Try again, or ask your administrator.`);
			show($('progress'), '');
			connecting = null;
		} else {
			const s = Math.round((Date.now() - connecting.since) / 1000);
			show($('progress'), `Preparing desktop ${d.id} of ${connecting.pool}: ${d.state === 'provisioning' ?
				'making it from its template' : 'starting it'} (${s} s)…`);
		}
	}
	const body = $('pools').tBodies[0];
	body.replaceChildren();
	for (const p of pools.json.pools)
		poolRow(body, p, list);
	$('no-pools').hidden = pools.json.pools.length > 0;
	$('pools').hidden = pools.json.pools.length === 0;
	const mine = $('mine').tBodies[0];
	mine.replaceChildren();
	for (const d of list)
		desktopRow(mine, d);
	$('mine').hidden = $('mine-title').hidden = list.length === 0;
	// Poll quickly while something is under way, slowly otherwise (free counts change).
	schedule(connecting || list.some((d) => TRANSIENT.has(d.state)) ? 1000 : 10000);
}

async function start() {
	clearTimeout(pollTimer);
	connecting = null;
	show($('progress'), '');
	const me = await whoami();
	const loggedIn = me.status === 200;
	$('login').hidden = loggedIn;
	$('desktops').hidden = !loggedIn;
	header(loggedIn ? me.json : null, start);
	if (!loggedIn) {
		if (me.status !== 401)
			show($('login-error'), loginError(me.status, me.json));
		$('username').focus();
		return;
	}
	await refresh();
}

$('login').addEventListener('submit', login);
start();
