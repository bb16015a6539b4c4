/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What several subcommands share: finding and loading their rules. */
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "spackle/config.h"

int
cmd_rules_open(struct cmd_rules_source *src, const char *cmd, FILE *err)
{
	struct config cfg;
	struct rules_diags d;
	const char *path = src->rules;
	const char *conf = src->config;

	memset(&d, 0, sizeof(d));
	config_defaults(&cfg);
	src->rs = NULL;
	src->verdict = cfg.dflt;
	if (path == NULL && conf == NULL &&
	    access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		conf = CONFIG_DEFAULT_PATH;
	if (path == NULL && conf != NULL) {
		if (config_load(&cfg, conf, err) != 0)
			return -1;
		path = cfg.rules;
		src->verdict = cfg.dflt;
	}
	if (src->dflt != NULL && !sp_verdict_parse(src->dflt, &src->verdict)) {
		fprintf(err,
		        "spackle %s: --default \"%s\": use allow, deny or "
		        "reject\n",
		        cmd, src->dflt);
		return -1;
	}
	if (path == NULL) {
		if (src->optional) {
			fprintf(err,
			        "spackle %s: no rules given (--rules or -c) "
			        "and "
			        "no %s: every flow gets the default, %s\n",
			        cmd, CONFIG_DEFAULT_PATH,
			        sp_verdict_name(src->verdict));
			return 0;
		}
		fprintf(err,
		        "spackle %s: no rules: pass --rules DIR or -c CONF "
		        "(%s does not exist)\n",
		        cmd, CONFIG_DEFAULT_PATH);
		return -1;
	}
	if ((src->rs = rules_new()) == NULL) {
		fprintf(err, "spackle %s: out of memory\n", cmd);
		return -1;
	}
	if (rules_load_path(src->rs, path, &d) != 0 || d.errors > 0 ||
	    rules_compile(src->rs, &d) != 0 || d.errors > 0) {
		rules_diags_print(err, &d);
		fprintf(err, "spackle %s: %s: %zu error%s, no rules loaded\n",
		        cmd, path, d.errors, d.errors == 1 ? "" : "s");
		rules_diags_free(&d);
		rules_free(src->rs);
		src->rs = NULL;
		return -1;
	}
	rules_diags_free(&d);
	return 0;
}
