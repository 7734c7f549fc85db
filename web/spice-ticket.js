// SPDX-License-Identifier: GPL-2.0-or-later
// spice-html5 0.3.0 sends the RSA-encrypted SPICE ticket without its leading zero bytes (ticket.js
// rsa_encrypt: the number's hex digits, not the modulus's length), which SpiceLinkAuthTicket then
// pads at the end: one channel in 256 fails its ticket ("failed to decrypt RSA encrypted
// password" on the server, "Permission denied" in the page), which left a console without a
// picture now and then.  padSpiceTickets(Spice), given spice-html5's module, pads the ticket of
// every channel (they share SpiceConn's prototype) at the front to the key's length, once.
// web/console.js uses it, and so does the browser tests' bare console page.
const TICKET_BYTES = 1024 / 8; // SPICE_TICKET_KEY_PAIR_LENGTH / 8

export function padSpiceTickets(Spice) {
	const proto = Object.getPrototypeOf(Spice.SpiceMainConn.prototype);
	const sendTicket = proto.send_ticket;

	if (proto.vdiPadsTickets)
		return;
	proto.vdiPadsTickets = true;
	proto.send_ticket = function (ticket) {
		if (Array.isArray(ticket) && ticket.length < TICKET_BYTES)
			ticket = new Array(TICKET_BYTES - ticket.length).fill(0).concat(ticket);
		return sendTicket.call(this, ticket);
	};
}
