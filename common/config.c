/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "alloc.h"
#include "cleanup.h"
#include "listen.h"
#include "paths.h"
#include "tcp-target.h"

/* ---- value parsers: each writes a message into err on failure ---------------- */

struct key_def {
	const char *section;
	const char *key;
	/* Parses value into field, or writes what is wrong into err and returns -EINVAL. */
	int (*parse)(const struct key_def *def, const char *value, void *field, struct vdi_error *err);
	size_t offset;
	uint64_t min, max;         /* integers */
	const char *const *choices; /* enums */
};

static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static int parse_string(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	(void)def;
	if (!*value)
		return vdi_error_set(err, -EINVAL, "must not be empty");
	return set_string(field, value);
}

static int parse_path(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	(void)def;
	if (value[0] != '/')
		return vdi_error_set(err, -EINVAL, "expected an absolute path, got \"%s\"", value);
	return set_string(field, value);
}

static int parse_uint(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)value[0]) || (v = strtoull(value, &end, 10), errno) || *end)
		return vdi_error_set(err, -EINVAL, "expected a whole number, got \"%s\"", value);
	if (v < def->min || v > def->max)
		return vdi_error_set(err, -EINVAL, "%llu is out of range %" PRIu64 "..%" PRIu64, v, def->min, def->max);
	*(uint64_t *)field = v;
	return 0;
}

static int parse_enum(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	char choices[128] = "";

	for (const char *const *c = def->choices; *c; c++) {
		if (streq(*c, value))
			return set_string(field, value);
		if (c != def->choices)
			strncat(choices, ", ", sizeof(choices) - strlen(choices) - 1);
		strncat(choices, *c, sizeof(choices) - strlen(choices) - 1);
	}
	return vdi_error_set(err, -EINVAL, "expected one of %s, got \"%s\"", choices, value);
}

/* ADDRESS:PORT as common/listen.h reads it; a host name is resolved when the daemon starts. */
static int parse_listen(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	char host[256];
	unsigned port;
	int r;

	(void)def;
	r = vdi_listen_split(value, host, sizeof(host), &port, err);
	if (r < 0)
		return r;
	return set_string(field, value);
}

static int parse_ws_url(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	(void)def;
	if ((!startswith(value, "ws://") && !startswith(value, "wss://")) || strlen(value) <= strlen("wss://"))
		return vdi_error_set(err, -EINVAL, "expected a ws:// or wss:// URL, got \"%s\"", value);
	return set_string(field, value);
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* A list separated by commas and/or blanks; at least one item. */
static int parse_list(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	_cleanup_free_ char *copy = strdup(value);
	char **list = NULL, *save = NULL;
	size_t n = 0, cap = 0;

	(void)def;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (vdi_grow((void **)&list, &cap, n + 2, sizeof(*list)) < 0 || !(list[n] = strdup(tok))) {
			strv_free(list);
			return -ENOMEM;
		}
		list[++n] = NULL;
	}
	if (n == 0)
		return vdi_error_set(err, -EINVAL, "expected at least one item");
	strv_free(*(char ***)field);
	*(char ***)field = list;
	return 0;
}

/* A list of relay targets: "unix:/dir/", "unix:/path/sock" or "tcp:ADDRESS[/PREFIX]:PORT[-PORT]". */
static int parse_targets(const struct key_def *def, const char *value, void *field, struct vdi_error *err)
{
	int r = parse_list(def, value, field, err);

	if (r < 0)
		return r;
	for (char **t = *(char ***)field; *t; t++) {
		struct vdi_tcp_pattern p;

		if (startswith(*t, "unix:/"))
			continue;
		if (!startswith(*t, "tcp:"))
			return vdi_error_set(err, -EINVAL,
					     "expected unix:/PATH or tcp:ADDRESS[/PREFIX]:PORT[-PORT], got \"%s\"", *t);
		if (vdi_tcp_pattern_parse(*t, &p, err) < 0)
			return -EINVAL;
	}
	return 0;
}

/* ---- the table ------------------------------------------------------------------ */

#define F(m) offsetof(struct vdi_config, m)
static const char *const virt_types[] = { "auto", "kvm", "qemu", NULL };

static const struct key_def keys[] = {
	{ "broker", "listen", parse_listen, F(broker.listen), 0, 0, NULL },
	{ "broker", "admin_socket", parse_path, F(broker.admin_socket), 0, 0, NULL },
	{ "broker", "session_ttl", parse_uint, F(broker.session_ttl), 60, 7 * 86400, NULL },
	{ "broker", "login_max_failures", parse_uint, F(broker.login_max_failures), 1, 1000, NULL },
	{ "broker", "login_lockout", parse_uint, F(broker.login_lockout), 0, 86400, NULL },
	{ "broker", "web_root", parse_path, F(broker.web_root), 0, 0, NULL },
	{ "broker", "spice_html5", parse_path, F(broker.spice_html5), 0, 0, NULL },
	{ "broker", "tls_cert", parse_path, F(broker.tls_cert), 0, 0, NULL },
	{ "broker", "tls_key", parse_path, F(broker.tls_key), 0, 0, NULL },
	{ "database", "path", parse_path, F(database.path), 0, 0, NULL },
	{ "pam", "service", parse_string, F(pam.service), 0, 0, NULL },
	{ "pam", "admin_group", parse_string, F(pam.admin_group), 0, 0, NULL },
	{ "libvirt", "hosts", parse_list, F(libvirt.hosts), 0, 0, NULL },
	{ "libvirt", "storage_pool", parse_string, F(libvirt.storage_pool), 0, 0, NULL },
	{ "libvirt", "storage_path", parse_path, F(libvirt.storage_path), 0, 0, NULL },
	{ "libvirt", "runtime_dir", parse_path, F(libvirt.runtime_dir), 0, 0, NULL },
	{ "libvirt", "virt_type", parse_enum, F(libvirt.virt_type), 0, 0, virt_types },
	{ "libvirt", "shutdown_timeout", parse_uint, F(libvirt.shutdown_timeout), 0, 3600, NULL },
	{ "gateway", "listen", parse_listen, F(gateway.listen), 0, 0, NULL },
	{ "gateway", "public_url", parse_ws_url, F(gateway.public_url), 0, 0, NULL },
	{ "gateway", "allowed_targets", parse_targets, F(gateway.allowed_targets), 0, 0, NULL },
	{ "gateway", "allowed_origins", parse_list, F(gateway.allowed_origins), 0, 0, NULL },
	{ "gateway", "idle_timeout", parse_uint, F(gateway.idle_timeout), 0, 7 * 86400, NULL },
	{ "gateway", "tls_cert", parse_path, F(gateway.tls_cert), 0, 0, NULL },
	{ "gateway", "tls_key", parse_path, F(gateway.tls_key), 0, 0, NULL },
	{ "gateway", "tls_ca", parse_path, F(gateway.tls_ca), 0, 0, NULL },
	{ "tokens", "key_file", parse_path, F(tokens.key_file), 0, 0, NULL },
	{ "tokens", "ttl", parse_uint, F(tokens.ttl), 5, 3600, NULL },
	{ "templates", "keep_versions", parse_uint, F(templates.keep_versions), 1, 1000, NULL },
	{ "templates", "stray_base_grace", parse_uint, F(templates.stray_base_grace), 0, 30 * 86400, NULL },
};
#undef F

static const struct {
	const char *section, *key, *value;
} defaults[] = {
	{ "broker", "listen", "127.0.0.1:8080" },
	{ "broker", "admin_socket", VDI_RUNDIR "/vdi/admin.sock" },
	{ "broker", "session_ttl", "28800" },
	{ "broker", "login_max_failures", "5" },
	{ "broker", "login_lockout", "300" },
	{ "broker", "web_root", VDI_DATADIR "/vdi/web" },
	{ "broker", "spice_html5", "/usr/share/spice-html5" }, /* Debian's package, wherever vdi is */
	{ "database", "path", VDI_LOCALSTATEDIR "/lib/vdi/vdi.db" },
	{ "pam", "service", "vdi" },
	{ "pam", "admin_group", "vdiadmin" },
	{ "libvirt", "hosts", "qemu:///system" },
	{ "libvirt", "storage_pool", "vdi" },
	{ "libvirt", "storage_path", VDI_LOCALSTATEDIR "/lib/vdi/images" },
	{ "libvirt", "runtime_dir", VDI_RUNDIR "/vdi" },
	{ "libvirt", "virt_type", "auto" },
	{ "libvirt", "shutdown_timeout", "60" },
	{ "gateway", "listen", "127.0.0.1:8081" },
	{ "gateway", "public_url", "ws://127.0.0.1:8081" },
	{ "gateway", "allowed_targets", "unix:" VDI_RUNDIR "/vdi/spice/" },
	{ "gateway", "allowed_origins", "*" },
	{ "gateway", "idle_timeout", "3600" },
	{ "tokens", "key_file", VDI_SYSCONFDIR "/vdi/token.key" },
	{ "tokens", "ttl", "60" },
	{ "templates", "keep_versions", "2" },
	{ "templates", "stray_base_grace", "3600" },
};

static const struct key_def *find_key(const char *section, const char *key, bool *ret_section_known)
{
	*ret_section_known = false;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (!streq(keys[i].section, section))
			continue;
		*ret_section_known = true;
		if (streq(keys[i].key, key))
			return &keys[i];
	}
	return NULL;
}

void vdi_config_finish(struct vdi_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		void *field = (char *)cfg + keys[i].offset;

		if (keys[i].parse == parse_list || keys[i].parse == parse_targets)
			strv_free(*(char ***)field);
		else if (keys[i].parse != parse_uint)
			free(*(char **)field);
	}
	strv_free(cfg->files);
	memset(cfg, 0, sizeof(*cfg));
}

int vdi_config_init(struct vdi_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
		bool known;
		const struct key_def *def = find_key(defaults[i].section, defaults[i].key, &known);

		if (!def || def->parse(def, defaults[i].value, (char *)cfg + def->offset, NULL) < 0) {
			vdi_config_finish(cfg);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- reading files ----------------------------------------------------------------- */

struct parse_ctx {
	struct vdi_config *cfg;
	bool seen[ELEMENTSOF(keys)];
	int error;          /* first handler error */
	char msg[512];      /* its message, without file:line */
};

static void ctx_fail(struct parse_ctx *ctx, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ctx_fail(struct parse_ctx *ctx, int r, const char *fmt, ...)
{
	va_list ap;

	if (ctx->error)
		return;
	ctx->error = r;
	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	const struct key_def *def;
	struct vdi_error msg = { 0 };
	bool section_known;
	size_t idx;
	int r;

	if (!name)
		return 1; /* a section header alone */
	if (!*section) {
		ctx_fail(ctx, -EINVAL, "%s: key outside any section", name);
		return 0;
	}
	def = find_key(section, name, &section_known);
	if (!section_known) {
		ctx_fail(ctx, -EINVAL, "[%s]: unknown section", section);
		return 0;
	}
	if (!def) {
		ctx_fail(ctx, -EINVAL, "[%s] %s: unknown key", section, name);
		return 0;
	}
	idx = (size_t)(def - keys);
	if (ctx->seen[idx]) {
		ctx_fail(ctx, -EINVAL, "[%s] %s: given twice in this file", section, name);
		return 0;
	}
	ctx->seen[idx] = true;

	r = def->parse(def, value, (char *)ctx->cfg + def->offset, &msg);
	if (r < 0) {
		ctx_fail(ctx, r, "[%s] %s: %s", section, name, r == -ENOMEM ? "out of memory" : msg.message);
		return 0;
	}
	return 1;
}

/*
 * What inih would get wrong silently is an error here: lines it cuts, lines
 * it takes as continuations of the previous key, and lines it ignores.
 */
static int prescan(const char *text, const char *name, struct vdi_error *err)
{
	bool after_key = false;
	unsigned line = 0;

	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n'), *s = p;
		size_t len = end ? (size_t)(end - p) : strlen(p), raw = len;

		line++;
		if (len && p[len - 1] == '\r')
			len--;
		if (len > VDI_CONFIG_MAX_LINE)
			return vdi_error_set(err, -EINVAL, "%s:%u: line longer than %d characters", name, line,
					     VDI_CONFIG_MAX_LINE);
		if (line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
			s += 3;
		while (s < p + len && (*s == ' ' || *s == '\t'))
			s++;

		if (s == p + len || *s == ';' || *s == '#') {
			/* blank or comment */
		} else if (s > p && after_key) {
			return vdi_error_set(err, -EINVAL,
					     "%s:%u: indented line after a key: continuation lines are not supported",
					     name, line);
		} else if (*s == '[') {
			if (!memchr(s, ']', (size_t)(p + len - s)))
				return vdi_error_set(err, -EINVAL, "%s:%u: section header without ']'", name, line);
			after_key = false;
		} else if (!memchr(s, '=', (size_t)(p + len - s)) && !memchr(s, ':', (size_t)(p + len - s))) {
			return vdi_error_set(err, -EINVAL, "%s:%u: expected \"key = value\"", name, line);
		} else {
			after_key = true;
		}
		if (memchr(p, '\0', len))
			return vdi_error_set(err, -EINVAL, "%s:%u: NUL byte", name, line);
		p = end ? end + 1 : p + raw;
	}
	return 0;
}

int vdi_config_apply_string(struct vdi_config *cfg, const char *text, const char *name, struct vdi_error *err)
{
	struct parse_ctx ctx = { .cfg = cfg };
	int r, line;

	r = prescan(text, name, err);
	if (r < 0)
		return r;
	line = ini_parse_string(text, handler, &ctx);
	if (line == -2)
		return -ENOMEM;
	if (line != 0 || ctx.error)
		return vdi_error_set(err, ctx.error ? ctx.error : -EINVAL, "%s:%d: %s", name, line,
				     ctx.error ? ctx.msg : "syntax error");
	return 0;
}

static int read_file(const char *path, char **ret, struct vdi_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t n;

	if (!f) {
		int r = -errno;

		return vdi_error_set(err, r, "%s: cannot open: %s", path, strerror(-r));
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
		return vdi_error_set(err, -EINVAL, "%s: not a regular file", path);
	if (st.st_size > VDI_CONFIG_MAX_FILE)
		return vdi_error_set(err, -EFBIG, "%s: larger than %d bytes", path, VDI_CONFIG_MAX_FILE);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f))
		return vdi_error_set(err, -EIO, "%s: cannot read", path);
	buf[n] = '\0';
	if (strlen(buf) != n)
		return vdi_error_set(err, -EINVAL, "%s: contains a NUL byte", path);
	*ret = TAKE_PTR(buf);
	return 0;
}

/* Appends a copy of path to cfg->files. */
static int note_file(struct vdi_config *cfg, const char *path)
{
	size_t n = 0;
	char **files;

	while (cfg->files && cfg->files[n])
		n++;
	files = vdi_reallocarray(cfg->files, n + 2, sizeof(*files));
	if (!files)
		return -ENOMEM;
	cfg->files = files;
	files[n + 1] = NULL;
	files[n] = strdup(path);
	return files[n] ? 0 : -ENOMEM;
}

static int apply_file(struct vdi_config *cfg, const char *path, struct vdi_error *err)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, &text, err);

	if (r >= 0)
		r = vdi_config_apply_string(cfg, text, path, err);
	return r < 0 ? r : note_file(cfg, path);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int apply_dropins(struct vdi_config *cfg, const char *path, struct vdi_error *err)
{
	_cleanup_free_ char *dir = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (asprintf(&dir, "%s.d", path) < 0) {
		dir = NULL;
		return -ENOMEM;
	}
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		return vdi_error_set(err, r, "%s: cannot open: %s", dir, strerror(-r));
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 5 || !streq(de->d_name + len - 5, ".conf"))
			continue;
		if (vdi_grow((void **)&names, &cap, n + 1, sizeof(*names)) < 0 || !(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r >= 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (r >= 0) {
			_cleanup_free_ char *file = NULL;

			if (asprintf(&file, "%s/%s", dir, names[i]) < 0) {
				file = NULL;
				r = -ENOMEM;
			} else {
				r = apply_file(cfg, file, err);
			}
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int vdi_config_load(const char *path, struct vdi_config *cfg, struct vdi_error *err)
{
	int r;

	r = vdi_config_init(cfg);
	if (r < 0)
		return r;
	r = apply_file(cfg, path, err);
	if (r >= 0)
		r = apply_dropins(cfg, path, err);
	if (r < 0)
		vdi_config_finish(cfg);
	return r;
}
