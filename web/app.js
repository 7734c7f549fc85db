// SPDX-License-Identifier: GPL-2.0-or-later
// The login page and "your desktops": talks to vdi-broker's API (/api/v1, docs/api.md).
const $ = (id) => document.getElementById(id);
let csrf = sessionStorage.getItem('vdi-csrf') || '';

async function api(method, path, body) {
	const headers = { 'Accept': 'application/json' };
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (method !== 'GET' && csrf)
		headers['X-CSRF-Token'] = csrf;
	let res;
	try {
		res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'same-origin' });
	} catch (e) {
		return { status: 0, json: { error: 'The server cannot be reached. Try again in a moment.' } };
	}
	let json = {};
	try { json = await res.json(); } catch (e) { json = { error: `The server answered ${res.status}.` }; }
	return { status: res.status, json };
}

function show(el, text) {
	el.textContent = text;
	el.hidden = !text;
}

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
	csrf = r.json.csrf;
	sessionStorage.setItem('vdi-csrf', csrf);
	show($('login-error'), '');
	await start();
}

async function logout() {
	await api('POST', '/logout');
	csrf = '';
	sessionStorage.removeItem('vdi-csrf');
	await start();
}

function stateOf(pool, desktops) {
	const mine = desktops.filter((d) => d.pool === pool.name);
	return mine.length ? mine.map((d) => d.state).join(', ') : '—';
}

async function refresh() {
	const [pools, desktops] = await Promise.all([api('GET', '/pools'), api('GET', '/desktops')]);
	if (pools.status === 401 || desktops.status === 401)
		return start();
	if (pools.status !== 200 || desktops.status !== 200) {
		show($('desktops-error'), (pools.json.error || desktops.json.error) || 'The server has trouble.');
		return;
	}
	show($('desktops-error'), '');
	const body = $('pools').tBodies[0];
	body.replaceChildren();
	for (const p of pools.json.pools) {
		const row = body.insertRow();
		row.dataset.pool = p.name;
		row.insertCell().textContent = p.name;
		row.insertCell().textContent = p.type;
		row.insertCell().textContent = `${p.free} of ${p.size}`;
		const state = row.insertCell();
		state.className = 'state';
		state.textContent = stateOf(p, desktops.json.desktops);
	}
	$('no-pools').hidden = pools.json.pools.length > 0;
	$('pools').hidden = pools.json.pools.length === 0;
}

async function start() {
	const me = await api('GET', '/me');
	const loggedIn = me.status === 200;
	$('login').hidden = loggedIn;
	$('desktops').hidden = !loggedIn;
	$('logout').hidden = !loggedIn;
	$('who').hidden = !loggedIn;
	if (!loggedIn) {
		if (me.status !== 401)
			show($('login-error'), loginError(me.status, me.json));
		$('username').focus();
		return;
	}
	$('who').textContent = me.json.user + (me.json.admin ? ' (admin)' : '');
	await refresh();
}

$('login').addEventListener('submit', login);
$('logout').addEventListener('click', logout);
start();
