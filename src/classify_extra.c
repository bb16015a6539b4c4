/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a flow carries beside its table entry (its remote name and its
 * process), kept by flow id in an open-addressing map. */
#include <stdlib.h>
#include <string.h>

#include "classify_int.h"

struct classify_extra *
classify_extra_slot(const struct classifier *c, uint64_t id)
{
	size_t i = sp_hash(&id, sizeof(id), c->seed) & c->extra_mask;

	while (c->extra[i].id != 0 && c->extra[i].id != id)
		i = (i + 1) & c->extra_mask;
	return &c->extra[i];
}

static void
more_free(struct classify_more *m)
{
	if (m == NULL)
		return;
	free(m->exe);
	free(m->cmdline);
	free(m->name);
	free(m->name_raw);
	free(m);
}

struct classify_more *
classify_extra_more(struct classifier *c, const struct flow *f)
{
	struct classify_extra *e = classify_extra_slot(c, f->id);

	if (e->id != f->id) {
		e->id = f->id;
		e->host = NULL;
		e->more = NULL;
	}
	if (e->more == NULL && (e->more = calloc(1, sizeof(*e->more))) != NULL)
		e->more->ppid = -1;
	return e->more;
}

void
classify_extra_del(struct classifier *c, uint64_t id)
{
	struct classify_extra *e = classify_extra_slot(c, id);
	size_t i, j, k;

	if (e->id == 0)
		return;
	free(e->host);
	more_free(e->more);
	memset(e, 0, sizeof(*e));
	/* Backward-shift deletion keeps every probe chain unbroken. */
	i = (size_t)(e - c->extra);
	j = i;
	for (;;) {
		j = (j + 1) & c->extra_mask;
		if (c->extra[j].id == 0)
			break;
		k = sp_hash(&c->extra[j].id, sizeof(uint64_t), c->seed) &
		    c->extra_mask;
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && k <= i && k > j)) {
			c->extra[i] = c->extra[j];
			memset(&c->extra[j], 0, sizeof(c->extra[j]));
			i = j;
		}
	}
}

void
classify_extra_clear(struct classifier *c)
{
	size_t i;

	for (i = 0; i <= c->extra_mask; i++) {
		free(c->extra[i].host);
		more_free(c->extra[i].more);
	}
}

bool
classify_extra_set(char **slot, const char *v)
{
	char *copy = NULL;

	if (*slot != NULL && v != NULL && strcmp(*slot, v) == 0)
		return true;
	if (v != NULL && (copy = strdup(v)) == NULL)
		return false;
	free(*slot);
	*slot = copy;
	return true;
}

const char *
classify_flow_host(const struct classifier *c, const struct flow *f)
{
	const struct classify_extra *e = classify_extra_slot(c, f->id);

	return e->id == f->id ? e->host : NULL;
}

const char *
classify_flow_exe(const struct classifier *c, const struct flow *f)
{
	const struct classify_extra *e = classify_extra_slot(c, f->id);

	return e->id == f->id && e->more != NULL ? e->more->exe : NULL;
}

void
classify_flow_info(const struct classifier *c, const struct flow *f,
                   struct classify_flow_info *out)
{
	const struct classify_extra *e = classify_extra_slot(c, f->id);
	const struct classify_more *m;

	memset(out, 0, sizeof(*out));
	out->ppid = -1;
	if (e->id != f->id)
		return;
	out->host = e->host;
	out->host_src =
	        e->host != NULL ? CLASSIFY_NAME_DNS : CLASSIFY_NAME_NONE;
	if ((m = e->more) == NULL)
		return;
	if (e->host != NULL && m->host_src != CLASSIFY_NAME_NONE)
		out->host_src = (enum classify_name_src)m->host_src;
	out->exe = m->exe;
	out->cmdline = m->cmdline;
	out->ppid = m->ppid;
	out->nprocs = m->nprocs;
	out->attrib = (enum classify_attrib)m->attrib;
	out->held = m->held;
	out->name_raw = m->name_raw;
	out->name_raw_src = (enum classify_name_src)m->name_raw_src;
}
