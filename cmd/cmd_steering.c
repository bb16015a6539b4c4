/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle steering print`: the rules spackle would load into a firewall,
 * from a config, without touching any firewall. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "spackle/config.h"
#include "spackle/steer.h"
#include "spackle/steer_pf.h"

static void
steering_usage(FILE *f)
{
	fprintf(f,
	        "usage: spackle steering print --firewall "
	        "pf-macos|pf-openbsd|iptables|nft [-c CONF]\n"
	        "\n"
	        "print  the rules spackle would load into that firewall for "
	        "CONF (default %s\n"
	        "       when it exists, else the built-in defaults); no "
	        "firewall is touched:\n"
	        "       iptables  iptables-restore --noflush input, IPv4 then "
	        "IPv6\n"
	        "       nft       an nft -f script\n"
	        "       pf-macos, pf-openbsd  the pf anchor \"%s\" (pfctl -a "
	        "%s -f -)\n"
	        "Exit 1 when CONF cannot be made into that firewall's rules "
	        "(the reason on\nstandard error).\n",
	        CONFIG_DEFAULT_PATH, STEER_PF_ANCHOR, STEER_PF_ANCHOR);
}

enum steering_fw { FW_IPTABLES, FW_NFT, FW_PF };

/* The text, or the reason it cannot be made: 0, 1 refused, 2 failed. */
static int
steering_print(const struct config *c, enum steering_fw fw,
               enum steer_pf_flavour pf, const char *fwname)
{
	char err[512] = "";
	int rc;

	if (fw == FW_PF)
		rc = steer_pf_validate(c, pf, err, sizeof(err));
	else
		rc = steer_validate(c, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "spackle steering print: %s%s%s\n",
		        fw == FW_PF ? "" : fwname, fw == FW_PF ? "" : ": ",
		        err);
		return 1;
	}
	switch (fw) {
	case FW_IPTABLES:
		rc = steer_iptables_text(c, AF_INET, stdout);
		if (rc == 0)
			rc = steer_iptables_text(c, AF_INET6, stdout);
		break;
	case FW_NFT:
		rc = steer_nft_text(c, stdout);
		break;
	case FW_PF:
		rc = steer_pf_text(c, pf, stdout);
		break;
	}
	/* The tunnel: the routing and tc half of its steering too. */
	if (rc == 0 && fw != FW_PF && c->backend == CONFIG_BACKEND_TUN)
		rc = steer_tun_print(c, stdout);
	if (rc == 0 && fflush(stdout) != 0)
		rc = -EIO;
	if (rc < 0) {
		fprintf(stderr, "spackle steering print: cannot write the "
		                "rules to standard output\n");
		return 2;
	}
	return 0;
}

int
cmd_steering(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"firewall", required_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	enum steer_pf_flavour pf = STEER_PF_MACOS;
	enum steering_fw fw = FW_IPTABLES;
	const char *conf = NULL, *fwname = NULL;
	struct config c;
	int ch;

	if (argc < 2) {
		steering_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		steering_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "print") != 0) {
		fprintf(stderr, "spackle steering: unknown command \"%s\"\n\n",
		        argv[1]);
		steering_usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'f':
			fwname = optarg;
			break;
		case 'h':
			steering_usage(stdout);
			return 0;
		default:
			steering_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "spackle steering print: unexpected \"%s\"\n\n",
		        argv[optind]);
		steering_usage(stderr);
		return 2;
	}
	if (fwname == NULL) {
		fprintf(stderr, "spackle steering print: which firewall? "
		                "--firewall pf-macos, pf-openbsd, iptables or "
		                "nft\n");
		return 2;
	}
	if (strcmp(fwname, "iptables") == 0)
		fw = FW_IPTABLES;
	else if (strcmp(fwname, "nft") == 0)
		fw = FW_NFT;
	else if (steer_pf_flavour(fwname, &pf))
		fw = FW_PF;
	else {
		fprintf(stderr,
		        "spackle steering print: --firewall \"%s\" is not one "
		        "of pf-macos, pf-openbsd, iptables, nft\n",
		        fwname);
		return 2;
	}
	config_defaults(&c);
	if (conf == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		conf = CONFIG_DEFAULT_PATH;
	if (conf != NULL && config_load(&c, conf, stderr) != 0)
		return 2;
	return steering_print(&c, fw, pf, fwname);
}
