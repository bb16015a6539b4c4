/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Addresses, names of enums, clocks and the hash shared by every module. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spackle/spackle.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void
sp_addr_from_v4(struct sp_addr *a, const uint8_t v4[4])
{
	memcpy(a->b, v4mapped, sizeof(v4mapped));
	memcpy(a->b + 12, v4, 4);
	a->family = AF_INET;
}

void
sp_addr_from_v6(struct sp_addr *a, const uint8_t v6[16])
{
	memcpy(a->b, v6, 16);
	a->family = AF_INET6;
}

bool
sp_addr_parse(struct sp_addr *a, const char *s)
{
	uint8_t buf[16];

	if (strchr(s, ':') == NULL) {
		if (inet_pton(AF_INET, s, buf) != 1)
			return false;
		sp_addr_from_v4(a, buf);
		return true;
	}
	if (inet_pton(AF_INET6, s, buf) != 1)
		return false;
	sp_addr_from_v6(a, buf);
	return true;
}

bool
sp_cidr_parse(struct sp_addr *a, unsigned *plen, const char *s)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, len;
	char *end;
	unsigned long v;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!sp_addr_parse(a, buf))
		return false;
	max = a->family == AF_INET ? 32 : 128;
	len = max;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return false;
		v = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || v > max)
			return false;
		len = (unsigned)v;
	}
	*plen = len;
	return true;
}

char *
sp_addr_format(const struct sp_addr *a, char *buf, size_t len)
{
	if (a->family == AF_INET)
		inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
	else if (a->family == AF_INET6)
		inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
	else
		snprintf(buf, len, "?");
	return buf;
}

int
sp_addr_cmp(const struct sp_addr *a, const struct sp_addr *b)
{
	int c = memcmp(a->b, b->b, sizeof(a->b));

	if (c != 0)
		return c;
	return (int)a->family - (int)b->family;
}

bool
sp_addr_equal(const struct sp_addr *a, const struct sp_addr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, 16) == 0;
}

unsigned
sp_cidr_plen128(const struct sp_addr *net, unsigned plen)
{
	return net->family == AF_INET ? plen + 96 : plen;
}

bool
sp_cidr_contains(const struct sp_addr *net, unsigned plen,
                 const struct sp_addr *a)
{
	unsigned bits, full, rest;

	if (net->family != a->family)
		return false;
	bits = sp_cidr_plen128(net, plen);
	full = bits / 8;
	rest = bits % 8;
	if (memcmp(net->b, a->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net->b[full] ^ a->b[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

const char *
sp_verdict_name(enum sp_verdict v)
{
	switch (v) {
	case SP_VERDICT_ALLOW:
		return "allow";
	case SP_VERDICT_DENY:
		return "deny";
	case SP_VERDICT_REJECT:
		return "reject";
	case SP_VERDICT_NONE:
		break;
	}
	return "none";
}

bool
sp_verdict_parse(const char *s, enum sp_verdict *v)
{
	if (strcmp(s, "allow") == 0)
		*v = SP_VERDICT_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*v = SP_VERDICT_DENY;
	else if (strcmp(s, "reject") == 0)
		*v = SP_VERDICT_REJECT;
	else
		return false;
	return true;
}

const char *
sp_dir_name(enum sp_dir d)
{
	switch (d) {
	case SP_DIR_OUT:
		return "out";
	case SP_DIR_IN:
		return "in";
	case SP_DIR_ANY:
		return "any";
	}
	return "?";
}

/*
 * Protocol names, the one table of them: the rule language's four words
 * first (the names spackle prints), then the other names firewalls and
 * other tools use for the same numbers (iptables-save prints ICMPv6 as
 * ipv6-icmp), then other protocols a firewall rule may name.
 */
static const struct sp_proto_entry {
	const char *name;
	uint8_t num;
	bool word; /* a word of the rule language (RULES.md) */
} sp_protos[] = {
        {"tcp", SP_PROTO_TCP, true},
        {"udp", SP_PROTO_UDP, true},
        {"icmp", SP_PROTO_ICMP, true},
        {"icmp6", SP_PROTO_ICMP6, true},
        {"ipv6-icmp", SP_PROTO_ICMP6, false},
        {"icmpv6", SP_PROTO_ICMP6, false},
        {"igmp", 2, false},
        {"ipencap", 4, false},
        {"dccp", 33, false},
        {"ipv6", 41, false},
        {"gre", 47, false},
        {"esp", 50, false},
        {"ah", 51, false},
        {"ospf", 89, false},
        {"pim", 103, false},
        {"vrrp", 112, false},
        {"l2tp", 115, false},
        {"sctp", 132, false},
        {"mh", 135, false},
        {"udplite", 136, false},
};
#define SP_NPROTOS (sizeof(sp_protos) / sizeof(sp_protos[0]))

const char *
sp_proto_name(unsigned proto)
{
	size_t i;

	for (i = 0; i < SP_NPROTOS && sp_protos[i].word; i++)
		if (sp_protos[i].num == proto)
			return sp_protos[i].name;
	return NULL;
}

const char *
sp_proto_format(unsigned proto, char *buf, size_t len)
{
	const char *p = sp_proto_name(proto);

	if (p != NULL)
		return p;
	snprintf(buf, len, "%u", proto);
	return buf;
}

int
sp_proto_number(const char *name, bool words_only)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < SP_NPROTOS; i++) {
		if (words_only && !sp_protos[i].word)
			break;
		if ((words_only ? strcmp(name, sp_protos[i].name)
		                : strcasecmp(name, sp_protos[i].name)) == 0)
			return sp_protos[i].num;
	}
	return -1;
}

const char *
sp_proto_system_name(unsigned proto)
{
	size_t i;

	for (i = 0; i < SP_NPROTOS; i++)
		if (!sp_protos[i].word && sp_protos[i].num == proto)
			return sp_protos[i].name;
	return sp_proto_name(proto);
}

static size_t
page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (size_t)page : 4096;
}

void
sp_prefault_zeroed(void *p, size_t len)
{
	volatile uint8_t *b = p;
	size_t off, step = page_size();
	uintptr_t lo = ((uintptr_t)p + step - 1) & ~(uintptr_t)(step - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(step - 1);

	if (len == 0)
		return;
	/* The whole pages inside [p, p + len): the allocator's own header
	 * and neighbours keep their pages as they are. */
	if (hi > lo) {
#ifdef MADV_HUGEPAGE
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
		if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0) {
			b[0] = 0; /* the partial pages at either end */
			b[len - 1] = 0;
			return;
		}
#endif
	}
	for (off = 0; off < len; off += step)
		b[off] = 0;
	b[len - 1] = 0;
}

void
sp_ahead_init(struct sp_ahead *a, void *p, size_t len)
{
	uintptr_t step = page_size();
	uintptr_t lo = ((uintptr_t)p + step - 1) & ~(step - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(step - 1);

	/* The partial pages at either end fault in when used. */
	a->next = a->pop = (uint8_t *)lo;
	a->end = (uint8_t *)(hi > lo ? hi : lo);
}

bool
sp_ahead_fill(struct sp_ahead *a, const void *used_end)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t used = (uintptr_t)used_end;
	size_t step, n;

	if (a->next >= a->end || used + SP_AHEAD_LEAD <= (uintptr_t)a->next)
		return false;
	step = page_size();
	/* The pages the use has reached are mapped: no call for them. */
	if (used > (uintptr_t)a->next)
		a->next =
		        (uint8_t *)((used + step - 1) & ~(uintptr_t)(step - 1));
	if (a->next >= a->end)
		return false;
	if (a->pop <= a->next) {
		n = (size_t)(a->end - a->next);
		if (n > SP_AHEAD_STRETCH)
			n = SP_AHEAD_STRETCH;
		if (madvise(a->next, n, MADV_POPULATE_WRITE) != 0) {
			/* A kernel before 5.14, or no memory to map now: the
			 * pages fault in as they are used, as they did
			 * without this. A signal only cuts the call short. */
			if (errno != EINTR)
				a->next = a->end;
			return false;
		}
		a->pop = a->next + n;
	}
	(void)*(volatile const uint8_t *)a->next;
	a->next += step;
	return true;
#else
	(void)a;
	(void)used_end;
	return false;
#endif
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
sp_now_mono(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t
sp_now_wall(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static uint64_t
mix64(uint64_t x)
{
	/* The splitmix64 finaliser: every input bit reaches every output bit.
	 */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t
sp_hash(const void *p, size_t len, uint64_t seed)
{
	const uint8_t *s = p;
	uint64_t h = mix64(seed ^ (len * 0x9e3779b97f4a7c15ull));
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
		s += 8;
		len -= 8;
	}
	w = 0;
	memcpy(&w, s, len);
	return mix64(h ^ w ^ ((uint64_t)len << 56));
}

char *
sp_read_file(const char *path, size_t max, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	/* O_NONBLOCK: a FIFO named by mistake must not hang the import. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

const char *
sp_read_error(int err)
{
	switch (err) {
	case EINVAL:
		return "not a regular file";
	case EFBIG:
		return "file too big";
	}
	return strerror(err);
}
