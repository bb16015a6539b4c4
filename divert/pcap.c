/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The observe-only backend: pcap/pcapng files and live taps via libpcap. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divert/divert.h"

struct divert {
	pcap_t *pc;
	int link;
	bool nano;
	char err[PCAP_ERRBUF_SIZE + 64];
	divert_burst_cb cb;
	void *arg;
};

static int
pcap_backend_open(struct divert **out, const char *spec, char *err,
                  size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct divert *d;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strncmp(spec, "live:", 5) == 0) {
		char ifname[256];
		const char *comma = strchr(spec + 5, ',');
		bool headers = comma != NULL && strcmp(comma, ",headers") == 0;

		snprintf(ifname, sizeof(ifname), "%.*s",
		         (int)(comma != NULL ? (size_t)(comma - spec - 5)
		                             : strlen(spec + 5)),
		         spec + 5);
		d->pc = pcap_create(ifname, ebuf);
		if (d->pc != NULL) {
			/* ",headers": the first 256 bytes do (a tap that
			 * counts flows) */
			pcap_set_snaplen(d->pc, headers ? 256 : 262144);
			pcap_set_immediate_mode(d->pc, 1);
			pcap_set_tstamp_precision(d->pc,
			                          PCAP_TSTAMP_PRECISION_NANO);
			if (pcap_activate(d->pc) < 0) {
				snprintf(ebuf, sizeof(ebuf), "%s",
				         pcap_geterr(d->pc));
				pcap_close(d->pc);
				d->pc = NULL;
			}
		}
	} else {
		d->pc = pcap_open_offline_with_tstamp_precision(
		        spec, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	}
	if (d->pc == NULL) {
		snprintf(err, errlen, "%s: %s", spec, ebuf);
		free(d);
		return -1;
	}
	d->nano =
	        pcap_get_tstamp_precision(d->pc) == PCAP_TSTAMP_PRECISION_NANO;
	d->link = pcap_datalink(d->pc);
	*out = d;
	return 0;
}

static void
pcap_backend_handler(u_char *user, const struct pcap_pkthdr *h,
                     const u_char *bytes)
{
	struct divert *d = (struct divert *)user;
	struct divert_packet p;
	uint64_t frac = (uint64_t)h->ts.tv_usec;

	p.data = bytes;
	p.caplen = h->caplen;
	p.wirelen = h->len;
	p.link = d->link;
	p.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u +
	          (d->nano ? frac : frac * 1000u);
	p.id = 0;
	p.uid = UINT32_MAX;
	p.gid = UINT32_MAX;
	p.mark = 0;
	p.flags = 0;
	p.hook = DIVERT_HOOK_UNKNOWN;
	/* libpcap may reuse its buffer for the next packet: a burst of one. */
	d->cb(&p, 1, d->arg);
}

static int
pcap_backend_dispatch(struct divert *d, int max, divert_burst_cb cb, void *arg)
{
	int n;

	d->cb = cb;
	d->arg = arg;
	n = pcap_dispatch(d->pc, max > 0 ? max : -1, pcap_backend_handler,
	                  (u_char *)d);
	if (n == PCAP_ERROR) {
		snprintf(d->err, sizeof(d->err), "%s", pcap_geterr(d->pc));
		return -1;
	}
	if (n == PCAP_ERROR_BREAK)
		return 0;
	return n;
}

/* A live tap's descriptor to poll (non-blocking from here on); -1 for a
 * file. */
static int
pcap_backend_fd(struct divert *d)
{
	char ebuf[PCAP_ERRBUF_SIZE];

	if (pcap_setnonblock(d->pc, 1, ebuf) != 0)
		return -1;
	return pcap_get_selectable_fd(d->pc);
}

static const char *
pcap_backend_error(struct divert *d)
{
	return d->err;
}

static void
pcap_backend_close(struct divert *d)
{
	if (d == NULL)
		return;
	pcap_close(d->pc);
	free(d);
}

const struct divert_ops divert_pcap_ops = {
        .name = "pcap",
        .open = pcap_backend_open,
        .dispatch = pcap_backend_dispatch,
        .verdict = NULL,
        .error = pcap_backend_error,
        .close = pcap_backend_close,
        .fd = pcap_backend_fd,
};
