/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spice-link.h"

#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cleanup.h"

/* From the SPICE protocol (spice-protocol's protocol.h), little-endian on the wire. */
#define SPICE_MAGIC_LE 0x51444552U /* "REDQ" */
#define SPICE_VERSION_MAJOR 2
#define SPICE_VERSION_MINOR 2
#define SPICE_CHANNEL_MAIN 1
#define SPICE_TICKET_PUBKEY_BYTES 162
#define CAP_AUTH_SELECTION 0
#define CAP_AUTH_SPICE 1
#define CAP_MINI_HEADER 3

struct link_header {
	uint32_t magic;
	uint32_t major;
	uint32_t minor;
	uint32_t size;
} __attribute__((packed));

struct link_mess {
	uint32_t connection_id;
	uint8_t channel_type;
	uint8_t channel_id;
	uint32_t num_common_caps;
	uint32_t num_channel_caps;
	uint32_t caps_offset;
} __attribute__((packed));

struct link_reply {
	uint32_t error;
	uint8_t pub_key[SPICE_TICKET_PUBKEY_BYTES];
	uint32_t num_common_caps;
	uint32_t num_channel_caps;
	uint32_t caps_offset;
} __attribute__((packed));

static int connect_target(const char *target, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	_cleanup_close_ int fd = -1;
	const char *rest;

	if ((rest = strncmp(target, "unix:", 5) == 0 ? target + 5 : NULL)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(rest) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		strcpy(sa.sun_path, rest);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -errno;
	} else if ((rest = strncmp(target, "tcp:", 4) == 0 ? target + 4 : NULL)) {
		_cleanup_free_ char *host = strdup(rest);
		char *colon = host ? strrchr(host, ':') : NULL;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
		int r;

		if (!colon)
			return -EINVAL;
		*colon = '\0';
		r = getaddrinfo(host, colon + 1, &hints, &ai);
		if (r != 0)
			return -EHOSTUNREACH;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			r = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
		} else {
			r = -errno;
		}
		freeaddrinfo(ai);
		if (r < 0)
			return r;
	} else {
		return -EINVAL;
	}
	return TAKE_FD(fd);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Encrypts password + NUL with the server's RSA key, OAEP padding (SHA-1), as SPICE tickets are. */
static int encrypt_ticket(const uint8_t *der, size_t der_len, const char *password, uint8_t *out, size_t *out_len)
{
	const unsigned char *p = der;
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)der_len);
	EVP_PKEY_CTX *ctx = NULL;
	int r = -EPROTO;

	if (!key)
		return -EPROTO;
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (ctx && EVP_PKEY_encrypt_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_encrypt(ctx, out, out_len, (const unsigned char *)password, strlen(password) + 1) == 1)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return r;
}

int spice_link_probe(const char *target, const char *password, int timeout_ms, struct spice_link_result *ret)
{
	int fd;

	memset(ret, 0, sizeof(*ret));
	fd = connect_target(target, timeout_ms);
	if (fd < 0)
		return fd;
	return spice_link_probe_fd(fd, password, timeout_ms, ret);
}

int spice_link_probe_fd(int fd_in, const char *password, int timeout_ms, struct spice_link_result *ret)
{
	_cleanup_close_ int fd = fd_in;
	_cleanup_free_ uint8_t *body = NULL;
	struct {
		struct link_header h;
		struct link_mess m;
		uint32_t caps[1];
	} __attribute__((packed)) msg;
	struct link_header rh;
	struct link_reply reply;
	uint32_t size, num_caps, caps_end;
	bool auth_selection = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	{
		struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	memset(&msg, 0, sizeof(msg));
	msg.h.magic = htole32(SPICE_MAGIC_LE);
	msg.h.major = htole32(SPICE_VERSION_MAJOR);
	msg.h.minor = htole32(SPICE_VERSION_MINOR);
	msg.h.size = htole32(sizeof(msg.m) + sizeof(msg.caps));
	msg.m.channel_type = SPICE_CHANNEL_MAIN;
	msg.m.num_common_caps = htole32(1);
	msg.m.caps_offset = htole32(sizeof(msg.m));
	msg.caps[0] = htole32((1U << CAP_AUTH_SELECTION) | (1U << CAP_AUTH_SPICE) | (1U << CAP_MINI_HEADER));
	r = write_all(fd, &msg, sizeof(msg));
	if (r < 0)
		return r;

	r = read_all(fd, &rh, sizeof(rh));
	if (r < 0)
		return r;
	memcpy(ret->magic, &rh.magic, 4);
	ret->magic[4] = '\0';
	ret->major = le32toh(rh.major);
	ret->minor = le32toh(rh.minor);
	if (le32toh(rh.magic) != SPICE_MAGIC_LE)
		return 0;

	size = le32toh(rh.size);
	if (size < sizeof(reply) || size > 4096)
		return -EPROTO;
	body = malloc(size);
	if (!body)
		return -ENOMEM;
	r = read_all(fd, body, size);
	if (r < 0)
		return r;
	memcpy(&reply, body, sizeof(reply));
	ret->reply_error = le32toh(reply.error);
	if (ret->reply_error != 0 || !password)
		return 0;

	num_caps = le32toh(reply.num_common_caps);
	if (le32toh(reply.caps_offset) > size || num_caps > 64 ||
	    __builtin_add_overflow(le32toh(reply.caps_offset), num_caps * 4, &caps_end) || caps_end > size)
		return -EPROTO;
	if (num_caps > 0) {
		uint32_t cap0;

		memcpy(&cap0, body + le32toh(reply.caps_offset), 4);
		auth_selection = le32toh(cap0) & (1U << CAP_AUTH_SELECTION);
	}

	if (auth_selection) {
		uint32_t mech = htole32(CAP_AUTH_SPICE);

		r = write_all(fd, &mech, sizeof(mech));
		if (r < 0)
			return r;
	}
	{
		uint8_t ticket[512];
		size_t len = sizeof(ticket);
		uint32_t result;

		r = encrypt_ticket(reply.pub_key, sizeof(reply.pub_key), password, ticket, &len);
		if (r < 0)
			return r;
		r = write_all(fd, ticket, len);
		OPENSSL_cleanse(ticket, sizeof(ticket));
		if (r < 0)
			return r;
		r = read_all(fd, &result, sizeof(result));
		if (r < 0)
			return r;
		ret->auth_done = true;
		ret->auth_result = le32toh(result);
	}
	return 0;
}

int spice_link_via_gateway(int gateway_port, int64_t desktop, const char *token, const char *password, int timeout_ms,
			   int *http_status, struct spice_link_result *ret)
{
	_cleanup_free_ char *cred = NULL, *b64 = NULL, *req = NULL;
	_cleanup_close_ int fd = -1;
	char target[32], head[1024];
	size_t len = 0;
	int n;

	memset(ret, 0, sizeof(*ret));
	*http_status = 0;
	snprintf(target, sizeof(target), "tcp:127.0.0.1:%d", gateway_port);
	if (asprintf(&cred, "token:%s", token) < 0)
		return -ENOMEM;
	b64 = malloc(4 * (strlen(cred) / 3 + 1) + 1);
	if (!b64)
		return -ENOMEM;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cred, (int)strlen(cred));
	n = asprintf(&req, "CONNECT desktop-%lld:5900 HTTP/1.1\r\nHost: desktop-%lld:5900\r\nProxy-Authorization: Basic %s\r\n\r\n",
		     (long long)desktop, (long long)desktop, b64);
	if (n < 0)
		return -ENOMEM;
	fd = connect_target(target, timeout_ms);
	if (fd < 0)
		return fd;
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -errno;
	/* The gateway's answer, a byte at a time up to its blank line: what follows is SPICE. */
	head[0] = '\0';
	while (!strstr(head, "\r\n\r\n")) {
		ssize_t got;

		if (len == sizeof(head) - 1)
			return -EPROTO;
		got = recv(fd, head + len, 1, 0);
		if (got == 0)
			break;
		if (got < 0)
			return -errno;
		head[++len] = '\0';
	}
	/* Closed without a word: refused (*http_status stays 0). */
	if (len == 0)
		return 0;
	if (sscanf(head, "HTTP/1.%*d %d", http_status) != 1)
		return -EPROTO;
	if (*http_status != 200)
		return 0;
	return spice_link_probe_fd(TAKE_FD(fd), password, timeout_ms, ret);
}
