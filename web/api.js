// SPDX-License-Identifier: GPL-2.0-or-later
// What the pages share: vdi-broker's API (/api/v1, docs/api.md) with the session cookie and the
// CSRF token, and small DOM helpers.  Text from the server only ever goes into textContent.
export const $ = (id) => document.getElementById(id);

// The CSRF token from POST /login.  localStorage, not sessionStorage: a second tab (or the
// console opened from the list) belongs to the same session and needs it too.
export const csrf = {
	get: () => localStorage.getItem('vdi-csrf') || '',
	set: (v) => (v ? localStorage.setItem('vdi-csrf', v) : localStorage.removeItem('vdi-csrf')),
};

// {status, json}; status 0 when the server cannot be reached.
export async function api(method, path, body) {
	const headers = { 'Accept': 'application/json' };
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (method !== 'GET' && csrf.get())
		headers['X-CSRF-Token'] = csrf.get();
	let res;
	try {
		res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin',
			body: body === undefined ? undefined : JSON.stringify(body) });
	} catch (e) {
		return { status: 0, json: { error: 'The server cannot be reached. Try again in a moment.' } };
	}
	let json = {};
	try { json = await res.json(); } catch (e) { json = { error: `the server answered ${res.status}` }; }
	// A session whose CSRF token this browser lost (another login elsewhere, storage cleared)
	// cannot change anything: the pages treat it as logged out, and logging in again mends it.
	if (res.status === 403 && /X-CSRF-Token/.test(json.error || '')) {
		csrf.set('');
		return { status: 401, json: { error: 'Log in again to go on.' } };
	}
	return { status: res.status, json };
}

// GET /me, as a page needs it: 401 as well when this browser has no CSRF token for the session.
export async function whoami() {
	const me = await api('GET', '/me');
	if (me.status === 200 && !csrf.get())
		return { status: 401, json: { error: 'Log in again to go on.' } };
	return me;
}

export function show(el, text) {
	el.textContent = text || '';
	el.hidden = !text;
}

// A table cell (or any element) with text, appended to parent.
export function el(tag, text, parent, cls) {
	const e = document.createElement(tag);
	if (text !== undefined && text !== null)
		e.textContent = String(text);
	if (cls)
		e.className = cls;
	if (parent)
		parent.appendChild(e);
	return e;
}

export function button(text, parent, onclick, cls) {
	const b = el('button', text, parent, cls);
	b.type = 'button';
	b.addEventListener('click', onclick);
	return b;
}

export function when(seconds) {
	return seconds ? new Date(seconds * 1000).toLocaleString() : '—';
}

// Desktop states that change by themselves soon: the pages show progress and poll.
export const TRANSIENT = new Set(['provisioning', 'starting', 'resetting', 'deleting']);
// States in which a desktop runs and its console can be opened.
export const RUNNING = new Set(['assigned', 'connected', 'disconnected', 'free']);

// A short label for a desktop state, with a progress indicator when it is under way.
export function stateCell(cell, state) {
	cell.replaceChildren();
	cell.className = `state state-${state}`;
	el('span', state, cell);
	if (TRANSIENT.has(state)) {
		const p = el('progress', null, cell);
		p.setAttribute('aria-label', `${state}…`);
	}
}

// The header of every page: who is logged in, the admin link, logout.
export function header(me, onLogout) {
	$('who').textContent = me ? me.user + (me.admin ? ' (admin)' : '') : '';
	$('who').hidden = !me;
	$('logout').hidden = !me;
	const admin = $('admin-link');
	if (admin)
		admin.hidden = !(me && me.admin);
	$('logout').onclick = async () => {
		await api('POST', '/logout');
		csrf.set('');
		if (onLogout)
			onLogout();
		else
			location.href = '/';
	};
}
