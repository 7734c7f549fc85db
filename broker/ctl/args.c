/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdictl's command lines: the options (number values among them), and the operands after them. */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>

#include "text.h"

int ctl_opt_uint(const struct ctl *ctl, const char *name, const char *value, uint64_t min, uint64_t max,
		 uint64_t *ret)
{
	if (ctl_parse_uint(value, min, max, ret) < 0)
		return ctl_usage_error(ctl, "bad number for %s: \"%s\" (expected a whole number %llu..%llu)", name,
				       value, (unsigned long long)min, (unsigned long long)max);
	return CTL_EXIT_OK;
}

int ctl_opt_query(char **target, const char *key, const char *value)
{
	if (ctl_query_append(target, key, value) < 0)
		return ctl_error(CTL_EXIT_FAILED, "out of memory");
	return CTL_EXIT_OK;
}

int ctl_operands(const struct ctl *ctl, int argc, int nargs, const char *what)
{
	if (argc - optind == nargs)
		return CTL_EXIT_OK;
	if (!what)
		return ctl_usage_error(ctl, "%s takes no arguments", ctl->name);
	return ctl_usage_error(ctl, "%s expects %s", ctl->name, what);
}

int ctl_operand(const struct ctl *ctl, int argc, char **argv, const char *what, const char **ret)
{
	int r = ctl_operands(ctl, argc, 1, what);

	if (r == CTL_EXIT_OK)
		*ret = argv[optind];
	return r;
}

bool ctl_parse_options(const struct ctl *ctl, int argc, char **argv, const struct ctl_options *o, void *data,
		       int *status)
{
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", o->options, NULL)) >= 0) {
		if (c == 'h') {
			*status = ctl_help(ctl);
			return false;
		}
		r = c != '?' && o->take ? o->take(ctl, c, optarg, data) : -1;
		if (r < 0)
			r = ctl_usage_error(ctl, NULL);
		if (r != CTL_EXIT_OK) {
			*status = r;
			return false;
		}
	}
	*status = o->nargs < 0 ? CTL_EXIT_OK : ctl_operands(ctl, argc, o->nargs, o->what);
	return *status == CTL_EXIT_OK;
}

int ctl_take_value(const struct ctl *ctl, int c, const char *value, void *data)
{
	(void)ctl;
	(void)c;
	*(const char **)data = value;
	return CTL_EXIT_OK;
}

int ctl_parse_plain(const struct ctl *ctl, int argc, char **argv, int nargs, const char *what)
{
	static const struct option opts[] = {
		CTL_OPTIONS_END,
	};
	const struct ctl_options options = { opts, NULL, nargs, what };
	int r;

	if (!ctl_parse_options(ctl, argc, argv, &options, NULL, &r))
		return r == CTL_EXIT_OK ? 0 : -EINVAL;
	return 1;
}
