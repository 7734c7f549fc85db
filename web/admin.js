// SPDX-License-Identifier: GPL-2.0-or-later
// Administration: pools (create, resize, delete), templates (their versions; publish from a disk or from the
// maintenance desktop, cancel a scheduled publish, roll back; the maintenance desktop: start, console, discard), desktops (reset, stop, delete), hosts (drain, resume), sessions, the audit log.  Only for members of
// the admin group: the API answers 403 to anyone else, and this page then shows nothing but that.
import { $, api, button, el, header, show, stateCell, TRANSIENT, when, whoami } from '/api.js';

const STATES = ['provisioning', 'stopped', 'starting', 'free', 'assigned', 'connected', 'disconnected',
	'resetting', 'error', 'deleting', 'unavailable'];
const IN_USE = ['assigned', 'connected', 'disconnected'];
const ACTIONS = ['login', 'login-failed', 'logout', 'assign', 'console', 'release', 'reset', 'stop', 'delete',
	'idle-reclaim', 'template-add', 'template-remove', 'pool-create', 'pool-update', 'pool-delete',
	'session-kill', 'reconcile', 'host-drain', 'host-resume', 'network-add', 'network-remove', 'pool-bandwidth'];
let timer = null;
// For the browser test: how many times each table was redrawn.
const vdiAdmin = window.vdiAdmin = { redrawn: { pools: 0, templates: 0 } };

// Runs an admin request; a failure shows in the page's error line (or in line).  Returns the reply or null.
async function call(method, path, body, what, line = $('admin-error')) {
	const r = await api(method, `/admin${path}`, body);
	if (r.status === 401) {
		location.href = '/';
		return null;
	}
	if (r.status === 403) {
		notAdmin();
		return null;
	}
	if (r.status >= 400 || r.status === 0) {
		show(line, `${what}: ${r.json.error || r.status}`);
		return null;
	}
	return r;
}

function notAdmin() {
	clearTimeout(timer);
	$('admin').hidden = true;
	$('admin-nav').hidden = true;
	$('not-admin').hidden = false;
}

function options(select, values) {
	const have = [...select.options].map((o) => o.value).filter((v) => v !== '');
	if (have.length === values.length && have.every((v, i) => v === values[i]))
		return;
	const keep = select.value;
	const first = select.options[0] && select.options[0].value === '' ? select.options[0] : null;
	select.replaceChildren(...(first ? [first] : []));
	for (const v of values)
		el('option', v, select).value = v;
	if (values.includes(keep) || keep === '')
		select.value = keep;
}

// Brings parent (a table body, or any element) up to date with items, in place: one child per item, found again
// by its key (the child's data-<attr>), made by make(item) when new, updated by update(child, item) on every
// redraw.  Children stay the same elements, so what the admin is doing in one (typing, a selection, focus, a click
// under way) survives the redraws.
function keyed(parent, items, attr, key, make, update) {
	const keys = new Set(items.map(key));
	for (const child of [...parent.children])
		if (!keys.has(child.dataset[attr]))
			child.remove();
	const old = new Map([...parent.children].map((child) => [child.dataset[attr], child]));
	items.forEach((item, i) => {
		let child = old.get(key(item));
		if (!child) {
			child = make(item);
			child.dataset[attr] = key(item);
		}
		update(child, item);
		if (parent.children[i] !== child)
			parent.insertBefore(child, parent.children[i] || null);
	});
}

function poolRow(p) {
	const row = document.createElement('tr');
	for (let i = 0; i < 11; i++)
		row.insertCell();
	row.cells[5].className = 'other';
	const input = el('input', null, row.cells[6], 'size');
	input.type = 'number';
	input.min = 0;
	input.setAttribute('aria-label', `size of ${p.name}`);
	// What the admin types stays until they resize (or reload): the redraws leave it alone.
	input.addEventListener('input', () => { input.dataset.edited = 'yes'; });
	button('Resize', row.cells[6], async () => {
		if (await call('PATCH', `/pools/${encodeURIComponent(p.name)}`, { size: Number(input.value) },
			`Cannot resize ${p.name}`)) {
			delete input.dataset.edited;
			refresh();
		}
	}, 'resize');
	return row;
}

// A pool's network cell: the effective network (none: the template XML's own NICs), whether it is the
// template's, isolation and the bandwidth limit; then what its viewers get: the lock when the last one
// leaves, a second viewer refused.
function poolNetwork(p) {
	const parts = [p.network ? p.network + (p.network_inherited ? ' (template\'s)' : '') : 'template XML\'s NICs'];
	if (p.isolate_desktops)
		parts.push('isolated');
	if (p.bandwidth_kbps)
		parts.push(`${p.bandwidth_kbps} kbit/s`);
	if (p.lock_on_disconnect)
		parts.push('locks when the viewer leaves');
	if (p.second_viewer === 'refuse')
		parts.push('second viewer refused');
	return parts.join(', ');
}

function poolUpdate(row, p) {
	const c = row.cells;
	const count = (states) => states.reduce((n, s) => n + (p.desktops[s] || 0), 0);
	c[0].textContent = p.name + (p.draining ? ' (being deleted)' : '');
	c[1].textContent = p.template;
	c[2].textContent = p.type;
	c[3].textContent = count(['free']);
	c[4].textContent = count(IN_USE);
	c[5].textContent = Object.entries(p.desktops).filter(([s]) => s !== 'free' && !IN_USE.includes(s))
		.map(([s, n]) => `${n} ${s}`).join(', ') || '—';
	const input = c[6].querySelector('input');
	// Set only when it differs: setting a value drops the selection in the box.
	if (!input.dataset.edited && input.value !== String(p.size))
		input.value = p.size;
	c[7].textContent = p.prestart;
	c[8].textContent = p.groups.length ? p.groups.join(', ') : 'everyone';
	c[9].className = 'network';
	c[9].textContent = poolNetwork(p);
	if (row.dataset.draining === String(p.draining))
		return;
	row.dataset.draining = String(p.draining);
	c[10].replaceChildren();
	if (!p.draining)
		button('Delete', c[10], async () => {
			if (confirm(`Delete pool ${p.name}? Its free desktops go now, the others when their users release them.`) &&
			    await call('DELETE', `/pools/${encodeURIComponent(p.name)}`, undefined, `Cannot delete ${p.name}`))
				refresh();
		}, 'delete');
}

async function pools() {
	const r = await call('GET', '/pools', undefined, 'Cannot list the pools');
	if (!r)
		return;
	keyed($('pools').tBodies[0], r.json.pools, 'pool', (p) => p.name, poolRow, poolUpdate);
	vdiAdmin.redrawn.pools++;
	options($('filter-pool'), r.json.pools.map((p) => p.name));
	options($('pool-net-pool'), r.json.pools.map((p) => p.name));
}

function versionRow() {
	const row = document.createElement('tr');
	for (let i = 0; i < 7; i++)
		row.insertCell();
	return row;
}

// A version as GET /admin/templates shows it; state, owned and at only from the servers that have them.
function versionUpdate(row, v) {
	const c = row.cells;
	c[0].textContent = v.version;
	c[0].title = v.disk || '';
	c[1].textContent = v.state === 'scheduled' ? `scheduled for ${when(v.at)}` +
		(v.from_maintenance ? ' from the maintenance desktop' : '') : v.state || '';
	c[1].className = v.state ? `version-${v.state}` : '';
	c[2].textContent = v.note || '—';
	c[3].textContent = when(v.created);
	c[4].textContent = v.desktops;
	c[5].textContent = v.current ? 'yes' : '';
	c[6].textContent = v.owned === undefined ? '' : v.owned ? 'yes' : 'no';
	row.classList.toggle('current', !!v.current);
}

// Publish's body from the form: {disk, note?, at?}, or {from_maintenance: true, note?, at?}.
function publishBody(form) {
	const body = form.elements.source.value === 'maintenance' ? { from_maintenance: true }
		: { disk: form.elements.disk.value };
	if (form.elements.note.value)
		body.note = form.elements.note.value;
	if (seconds(form.elements.at) !== null)
		body.at = seconds(form.elements.at);
	return body;
}

// Publish, cancel, roll back or one of the maintenance desktop's actions: the reply or null; what happened shows
// in the template's lines of that part (where: "template", the publish form's, or "maintenance").
async function templateAction(box, method, what, path, body, where = 'template') {
	const name = box.dataset.template;
	show(box.querySelector(`.${where}-error`), '');
	show(box.querySelector(`.${where}-done`), '');
	for (const b of box.querySelectorAll('.template-actions button'))
		b.disabled = true;
	const r = await call(method, `/templates/${encodeURIComponent(name)}${path}`, body, `Cannot ${what} ${name}`,
		box.querySelector(`.${where}-error`));
	for (const b of box.querySelectorAll('.template-actions button'))
		b.disabled = false;
	if (r)
		refresh();
	return r;
}

async function publish(box, form) {
	const done = box.querySelector('.template-done');
	const body = publishBody(form);
	show(done, body.at ? '' : `Publishing ${body.from_maintenance ? 'the maintenance desktop\'s disk' : body.disk}: ` +
		'copying it, this can take minutes…');
	const r = await templateAction(box, 'POST', 'publish', '/publish', body);
	if (!r) {
		show(done, '');
		return;
	}
	form.reset();
	sourceChanged(form);
	const scheduled = (r.json.versions || []).find((v) => v.state === 'scheduled');
	show(done, r.status === 202 && scheduled ? `Version ${scheduled.version} is scheduled for ${when(scheduled.at)}.`
		: `Version ${r.json.version} is published and current.`);
}

// From the maintenance desktop: no disk (a time still, for a publish out of hours).
function sourceChanged(form) {
	const fromDisk = form.elements.source.value !== 'maintenance';
	form.elements.disk.disabled = !fromDisk;
	form.elements.disk.closest('label').hidden = !fromDisk;
}

// The template's maintenance desktop: what it is, and what the admin can do with it (start one, open its console,
// boot it again, throw it away).  Made once; maintenanceUpdate shows and hides its parts.
function maintenanceBox(box, t) {
	const part = el('div', null, box, 'maintenance');
	el('h4', 'Maintenance desktop', part);
	el('p', null, part, 'maintenance-state');
	const path = `/templates/${encodeURIComponent(t.name)}/edit`;
	const actions = el('div', null, part, 'template-actions');
	button('Start maintenance desktop', actions, async () => {
		// While the request makes and boots it; then its state line says how it is.
		show(part.querySelector('.maintenance-done'), 'Starting a maintenance desktop on the current version…');
		await templateAction(box, 'POST', 'start a maintenance desktop of', '/edit', {}, 'maintenance');
		show(part.querySelector('.maintenance-done'), '');
	}, 'edit');
	const open = el('a', 'Open console', actions, 'open-console button');
	open.href = `/console.html?template=${encodeURIComponent(t.name)}`;
	open.target = '_blank';
	open.title = 'The maintenance desktop\'s console in a new tab';
	const vv = el('a', 'remote-viewer file', actions, 'vv');
	vv.href = `/api/v1/admin${path}/console.vv`;
	vv.download = `maintenance-${t.name}.vv`;
	vv.title = 'Open with remote-viewer (virt-viewer). It holds a short-lived ticket: download it again later.';
	button('Start', actions, () => templateAction(box, 'POST', 'start the maintenance desktop of', '/edit/start', {},
		'maintenance'), 'edit-start');
	button('Discard', actions, () => {
		if (confirm(`Discard the maintenance desktop of ${t.name}? What was changed on it is lost.`))
			templateAction(box, 'DELETE', 'discard the maintenance desktop of', '/edit', undefined, 'maintenance');
	}, 'edit-discard');
	el('p', null, part, 'maintenance-done progress').hidden = true;
	const error = el('p', null, part, 'maintenance-error error');
	error.setAttribute('role', 'alert');
	error.hidden = true;
}

const MAINTENANCE_BUSY = new Set(['provisioning', 'starting', 'publishing', 'deleting']);

function maintenanceUpdate(box, m) {
	const part = box.querySelector('.maintenance');
	const state = part.querySelector('.maintenance-state');
	part.dataset.state = m ? m.state : 'none';
	if (!m)
		state.textContent = 'None. Start one to change the current version: publish it when it is shut down.';
	else
		state.textContent = `${m.state}${m.host ? ` on ${m.host}` : ''}, on version ${m.version}` +
			`${m.current === false ? ' (no longer current)' : ''}; started by ${m.started_by || '—'} ` +
			`${when(m.created)}; domain ${m.domain}${m.message ? `. ${m.message}` : ''}`;
	state.className = `maintenance-state state-${m ? m.state : 'none'}`;
	const q = (cls) => part.querySelector(`.${cls}`);
	q('edit').hidden = !!m;
	q('open-console').hidden = q('vv').hidden = !m || m.state !== 'running';
	q('edit-start').hidden = !m || m.state !== 'stopped';
	q('edit-discard').hidden = !m || MAINTENANCE_BUSY.has(m.state);
}

// The command a template's desktops run through their guest agent to lock the screen (empty: the default).
function lockCommandForm(box, t) {
	const form = el('form', null, box, 'lock-command');
	const l = el('label', 'Lock command', form);
	const input = Object.assign(el('input', null, l), { name: 'lock_command', maxLength: 512,
		placeholder: 'loginctl lock-sessions', title: 'a program and its arguments, run by the guest agent; ' +
			'empty: loginctl lock-sessions' });
	input.addEventListener('input', () => { input.dataset.edited = 'yes'; });
	el('button', 'Set', form, 'set-lock-command').type = 'submit';
	const error = el('p', null, form, 'lock-command-error error');
	error.setAttribute('role', 'alert');
	error.hidden = true;
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const r = await api('PATCH', `/admin/templates/${encodeURIComponent(t.name)}`,
			{ lock_command: input.value.trim() || null });
		show(error, r.status === 200 ? '' : `Cannot set the lock command of ${t.name}: ${r.json.error || r.status}`);
		if (r.status === 200) {
			delete input.dataset.edited;
			refresh();
		}
	});
}

function templateBox(t) {
	const box = el('article', null, null, 'template');
	el('h3', null, box);
	el('p', null, box, 'template-about');
	const table = el('table', null, box, 'versions');
	const head = table.createTHead().insertRow();
	for (const [h, title] of [['Version'], ['State'], ['Note'], ['Created'], ['Desktops'], ['Current'],
		['Owned', 'yes: vdi made this disk and deletes it when no desktop uses it any more; no: the disk given to ' +
			'"vdictl template add", never deleted']]) {
		const th = el('th', h, head);
		if (title)
			th.title = title;
	}
	table.createTBody();
	maintenanceBox(box, t);
	lockCommandForm(box, t);
	const form = el('form', null, box, 'publish');
	el('h4', 'Publish a new version', form);
	const source = el('fieldset', null, form, 'source');
	el('legend', 'From', source);
	for (const [value, label] of [['disk', 'a disk'], ['maintenance', 'the maintenance desktop (shut down)']]) {
		const l = el('label', null, source);
		Object.assign(el('input', null, l), { type: 'radio', name: 'source', value,
			defaultChecked: value === 'disk', checked: value === 'disk' });
		l.append(` ${label}`);
	}
	source.addEventListener('change', () => sourceChanged(form));
	for (const [name, label, attrs] of [
		['disk', 'Disk', { required: true, placeholder: '/path/of/the/new/disk.qcow2',
			title: 'absolute path of a QCOW2 or raw image' }],
		['note', 'Note', { maxLength: 500, placeholder: 'what changed' }],
		['at', 'At (empty: now)', { type: 'datetime-local' }]]) {
		const l = el('label', label, form);
		Object.assign(el('input', null, l), { name }, attrs);
	}
	const actions = el('div', null, form, 'template-actions');
	el('button', 'Publish', actions, 'publish').type = 'submit';
	button('Cancel scheduled publish', actions, () => templateAction(box, 'DELETE', 'cancel the publish of',
		'/publish'), 'cancel-publish');
	const back = button('Roll back', actions, () => {
		if (confirm(`Roll ${t.name} back to version ${back.dataset.to}? Free desktops are reset onto it, the ` +
			    'others when their users release them.'))
			templateAction(box, 'POST', 'roll back', '/rollback', {});
	}, 'rollback');
	form.addEventListener('submit', (e) => {
		e.preventDefault();
		publish(box, form);
	});
	el('p', null, form, 'template-done progress').hidden = true;
	const error = el('p', null, form, 'template-error error');
	error.setAttribute('role', 'alert');
	error.hidden = true;
	return box;
}

// Only the headings, the versions and which buttons show change: the form keeps what the admin is typing.
function templateUpdate(box, t) {
	const versions = t.versions || [];
	box.querySelector('h3').textContent = `${t.name} (current: version ${t.version})`;
	// 0: as the template's domain XML says (or vdi's default).
	const size = [t.memory_mib ? `${t.memory_mib} MiB` : '', t.vcpus ? `${t.vcpus} vCPU${t.vcpus === 1 ? '' : 's'}` : '']
		.filter((x) => x).join(', ');
	box.querySelector('.template-about').textContent = `${t.pools} pool${t.pools === 1 ? '' : 's'}, ` +
		`${size || 'memory and vCPUs from its domain XML'}; disk ${t.disk}`;
	keyed(box.querySelector('table.versions').tBodies[0], versions, 'version', (v) => String(v.version),
		versionRow, versionUpdate);
	const lock = box.querySelector('form.lock-command input');
	if (!lock.dataset.edited && lock.value !== (t.lock_command || ''))
		lock.value = t.lock_command || '';
	box.querySelector('button.cancel-publish').hidden = !versions.some((v) => v.state === 'scheduled');
	// What rollback goes back to by default: the newest ready version below the current one.
	const back = versions.find((v) => v.version < t.version && (!v.state || v.state === 'ready'));
	box.querySelector('button.rollback').hidden = !back;
	box.querySelector('button.rollback').dataset.to = back ? back.version : '';
	if (t.maintenance !== undefined)
		maintenanceUpdate(box, t.maintenance);
	box.querySelector('.maintenance').hidden = t.maintenance === undefined;
}

async function templates() {
	const r = await call('GET', '/templates', undefined, 'Cannot list the templates');
	if (!r)
		return false;
	keyed($('templates'), r.json.templates, 'template', (t) => t.name, templateBox, templateUpdate);
	vdiAdmin.redrawn.templates++;
	$('no-templates').hidden = r.json.templates.length > 0;
	options($('pool-template'), r.json.templates.map((t) => t.name));
	// Under way: a maintenance desktop being made, booted, published or thrown away; a version being made.
	return r.json.templates.some((t) => (t.maintenance && MAINTENANCE_BUSY.has(t.maintenance.state)) ||
		(t.versions || []).some((v) => v.state === 'making'));
}

async function createPool(event) {
	event.preventDefault();
	const groups = $('pool-groups').value.split(/[\s,]+/).filter((g) => g);
	const body = {
		name: $('pool-name').value, template: $('pool-template').value, type: $('pool-type').value,
		size: Number($('pool-size').value), prestart: Number($('pool-prestart').value || 0), groups,
	};
	if ($('pool-network').value.trim())
		body.network = $('pool-network').value.trim();
	if ($('pool-isolate').value)
		body.isolate_desktops = $('pool-isolate').value === 'yes';
	if (Number($('pool-bandwidth').value || 0))
		body.bandwidth_kbps = Number($('pool-bandwidth').value);
	if ($('pool-lock').value)
		body.lock_on_disconnect = $('pool-lock').value === 'yes';
	body.second_viewer = $('pool-second-viewer').value;
	const r = await api('POST', '/admin/pools', body);
	if (r.status !== 201) {
		show($('pool-error'), `Cannot create the pool: ${r.json.error || r.status}`);
		return;
	}
	show($('pool-error'), '');
	$('pool-name').value = '';
	refresh();
}

// PATCH of a pool's network settings: only what the admin filled in.
async function updatePoolNetwork(event) {
	event.preventDefault();
	const body = {};
	const name = $('pool-net-pool').value;
	if ($('pool-net-inherit').checked)
		body.network = null;
	else if ($('pool-net-network').value.trim())
		body.network = $('pool-net-network').value.trim();
	const isolate = $('pool-net-isolate').value;
	if (isolate !== 'keep')
		body.isolate_desktops = isolate === 'default' ? null : isolate === 'yes';
	if ($('pool-net-bandwidth').value !== '')
		body.bandwidth_kbps = Number($('pool-net-bandwidth').value);
	const lock = $('pool-net-lock').value;
	if (lock !== 'keep')
		body.lock_on_disconnect = lock === 'default' ? null : lock === 'yes';
	if ($('pool-net-second-viewer').value !== 'keep')
		body.second_viewer = $('pool-net-second-viewer').value;
	if (!name || !Object.keys(body).length) {
		show($('pool-net-error'), 'Choose a pool and what to change.');
		return;
	}
	const r = await api('PATCH', `/admin/pools/${encodeURIComponent(name)}`, body);
	if (r.status !== 200) {
		show($('pool-net-error'), `Cannot update ${name}: ${r.json.error || r.status}`);
		return;
	}
	show($('pool-net-error'), '');
	for (const id of ['pool-net-network', 'pool-net-bandwidth'])
		$(id).value = '';
	$('pool-net-inherit').checked = false;
	$('pool-net-isolate').value = 'keep';
	$('pool-net-lock').value = 'keep';
	$('pool-net-second-viewer').value = 'keep';
	refresh();
}

// What a desktop's guest agent tells: "host (user, user)"; a dash without an agent.
function guestText(g) {
	if (!g)
		return '—';
	const users = (g.users || []).join(', ');
	return `${g.hostname || '?'}${users ? ` (${users})` : ''}`;
}

async function desktops() {
	const q = new URLSearchParams();
	for (const [key, id] of [['pool', 'filter-pool'], ['state', 'filter-state'], ['user', 'filter-user']])
		if ($(id).value)
			q.set(key, $(id).value);
	const r = await call('GET', `/desktops?${q}`, undefined, 'Cannot list the desktops');
	if (!r)
		return false;
	const body = $('desktops').tBodies[0];
	body.replaceChildren();
	for (const d of r.json.desktops) {
		const row = body.insertRow();
		row.dataset.id = d.id;
		row.dataset.pool = d.pool;
		row.insertCell().textContent = d.id;
		row.insertCell().textContent = d.pool;
		stateCell(row.insertCell(), d.state);
		row.insertCell().textContent = d.owner || '—';
		row.insertCell().textContent = d.domain;
		row.insertCell().textContent = d.host || '';
		const addresses = row.insertCell();
		addresses.className = 'addresses';
		addresses.textContent = (d.addresses || []).join(', ') || '—';
		const guest = row.insertCell();
		guest.className = 'guest';
		guest.textContent = guestText(d.guest);
		row.insertCell().textContent = when(d.assigned_at);
		row.insertCell().textContent = when(d.updated);
		const actions = row.insertCell();
		actions.className = 'actions';
		const act = (label, method, path, ask) => button(label, actions, async () => {
			if ((!ask || confirm(ask)) && await call(method, path, undefined, `Cannot ${label.toLowerCase()} desktop ${d.id}`))
				refresh();
		}, label.toLowerCase());
		if (!TRANSIENT.has(d.state)) {
			act('Reset', 'POST', `/desktops/${d.id}/reset`,
				d.owner ? `Reset desktop ${d.id}? ${d.owner} loses what is on it.` : null);
			if (d.state !== 'stopped')
				act('Stop', 'POST', `/desktops/${d.id}/stop`, d.owner ? `Stop desktop ${d.id} of ${d.owner}?` : null);
			act('Delete', 'DELETE', `/desktops/${d.id}`, `Delete desktop ${d.id}${d.owner ? ` of ${d.owner}` : ''}?`);
		}
	}
	$('no-desktops').hidden = r.json.desktops.length > 0;
	return r.json.desktops.some((d) => TRANSIENT.has(d.state));
}

function mib(bytes) {
	return bytes === null || bytes === undefined ? '' : `${Math.round(bytes / 1048576)} MiB`;
}

async function hosts() {
	const r = await call('GET', '/hosts', undefined, 'Cannot list the hosts');
	if (!r)
		return;
	const body = $('hosts').tBodies[0];
	body.replaceChildren();
	for (const h of r.json.hosts) {
		const row = body.insertRow();
		row.dataset.uri = h.uri;
		// The libvirt networks it had active at its last look, and those pools' desktops attach to that it lacks;
		// which of UEFI, Secure Boot and a TPM it offered then ("none"; empty: not known yet).
		const missing = h.missing_networks || [];
		for (const v of [h.uri, h.alive ? 'yes' : 'no', h.draining ? 'yes' : 'no', h.desktops, mib(h.free_memory),
			(h.templates || []).join(', '), (h.networks || []).join(', '), missing.join(', '),
			h.hardware ? h.hardware.join(', ') || 'none' : ''])
			row.insertCell().textContent = v;
		row.cells[1].className = h.alive ? 'alive' : 'down';
		row.cells[6].className = 'networks';
		row.cells[7].className = missing.length ? 'missing-networks down' : 'missing-networks';
		row.cells[8].className = 'hardware';
		const actions = row.insertCell();
		if (h.draining)
			button('Resume', actions, async () => {
				if (await call('POST', '/hosts/resume', { host: h.uri }, 'Cannot resume the host'))
					refresh();
			}, 'resume');
		else
			button('Drain', actions, async () => {
				if (confirm(`Drain ${h.uri}? No new desktop goes there; its free desktops are deleted now and ` +
					    'pooled ones when released. Persistent desktops stay.') &&
				    await call('POST', '/hosts/drain', { host: h.uri }, 'Cannot drain the host'))
					refresh();
			}, 'drain');
	}
}

async function sessions() {
	const r = await call('GET', '/sessions', undefined, 'Cannot list the sessions');
	if (!r)
		return;
	const body = $('sessions').tBodies[0];
	body.replaceChildren();
	for (const s of r.json.sessions) {
		const row = body.insertRow();
		row.dataset.user = s.user;
		for (const v of [s.id, s.user, s.admin ? 'yes' : 'no', s.client, when(s.created), when(s.expires)])
			row.insertCell().textContent = v;
		button('End', row.insertCell(), async () => {
			if (confirm(`End ${s.user}'s session ${s.id}? They have to log in again.`) &&
			    await call('DELETE', `/sessions/${encodeURIComponent(s.id)}`, undefined, 'Cannot end the session'))
				refresh();
		}, 'kill');
	}
}

function seconds(input) {
	return input.value ? Math.floor(new Date(input.value).getTime() / 1000) : null;
}

async function audit() {
	const q = new URLSearchParams();
	for (const [key, id] of [['user', 'audit-user'], ['action', 'audit-action'], ['object', 'audit-object'],
		['limit', 'audit-limit']])
		if ($(id).value)
			q.set(key, $(id).value);
	for (const [key, id] of [['since', 'audit-since'], ['until', 'audit-until']])
		if (seconds($(id)) !== null)
			q.set(key, seconds($(id)));
	const r = await call('GET', `/audit?${q}`, undefined, 'Cannot read the audit log');
	if (!r)
		return;
	const body = $('audit').tBodies[0];
	body.replaceChildren();
	for (const a of r.json.audit) {
		const row = body.insertRow();
		row.dataset.action = a.action;
		for (const v of [when(a.time), a.actor, a.action, a.object, a.detail])
			row.insertCell().textContent = v || '';
	}
}

async function refresh() {
	clearTimeout(timer);
	show($('admin-error'), '');
	await pools();
	const making = await templates();
	const busy = await desktops() || making;
	await hosts();
	await sessions();
	await audit();
	if (!$('admin').hidden)
		timer = setTimeout(refresh, busy ? 1000 : 5000);
}

async function main() {
	const me = await whoami();
	if (me.status === 401) {
		location.href = '/';
		return;
	}
	header(me.status === 200 ? me.json : null);
	if (me.status !== 200 || !me.json.admin)
		return notAdmin();
	$('admin').hidden = false;
	$('admin-nav').hidden = false;
	options($('filter-state'), STATES);
	options($('audit-action'), ACTIONS);
	$('pool-form').addEventListener('submit', createPool);
	$('pool-net-form').addEventListener('submit', updatePoolNetwork);
	$('audit-filter').addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
	$('desktop-filter').addEventListener('change', refresh);
	$('desktop-filter').addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
	await refresh();
}

main();
