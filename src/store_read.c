/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading the store: a read-only snapshot in any process, daemon or not. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/store_codec.h"
#include "src/store_int.h"

struct store_reader {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi flows, events, names, meta;
	bool has_flows, has_events, has_names, has_meta;
	unsigned version;
	bool attached; /* the env is an open store's: not closed here */
	char path[SP_PATH_MAX];
};

static int
reader_snapshot(struct store_reader *r)
{
	MDB_val k = {7, (void *)"version"}, v;
	int rc;

	rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(r->env, 0);
		rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->txn);
	}
	if (rc != 0)
		return rc;
	r->has_flows = mdb_dbi_open(r->txn, "flows", 0, &r->flows) == 0;
	r->has_events = mdb_dbi_open(r->txn, "events", 0, &r->events) == 0;
	r->has_names = mdb_dbi_open(r->txn, "names", 0, &r->names) == 0;
	r->has_meta = mdb_dbi_open(r->txn, "meta", 0, &r->meta) == 0;
	r->version = r->has_flows ? 0 : STORE_SCHEMA_VERSION;
	if (r->has_meta && mdb_get(r->txn, r->meta, &k, &v) == 0 &&
	    v.mv_size == 4)
		r->version = get32(v.mv_data);
	return 0;
}

/*
 * A data.mdb that LMDB's creation left unfinished: the writer was stopped
 * before it had written the first two pages (the meta pages) whole, so
 * nothing was ever stored in it. Empty, or shorter than the two pages of
 * this system that LMDB writes first, and refused (MDB_INVALID). The
 * writer starts such a file again (store.c).
 */
static bool
creation_cut_short(off_t size, int rc)
{
	return size == 0 ||
	       (rc == MDB_INVALID && size < 2 * sysconf(_SC_PAGESIZE));
}

int
store_reader_open(struct store_reader **rp, const char *path, char *err,
                  size_t errlen)
{
	struct store_reader *r = NULL;
	char data[SP_PATH_MAX + 16];
	struct stat st;
	int rc;

	*rp = NULL;
	snprintf(data, sizeof(data), "%s/data.mdb", path);
	if (stat(data, &st) != 0) {
		snprintf(err, errlen,
		         "no store at %s (%s): the daemon creates it, with "
		         "`db = %s` in its config",
		         path, strerror(errno), path);
		return -1;
	}
	if (st.st_size == 0) {
		/* LMDB read-only would try to write the first pages, and
		 * fail with EBADF. */
		rc = MDB_INVALID;
		goto fail;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	if ((rc = mdb_env_create(&r->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(r->env, 8)) != 0)
		goto fail;
	rc = mdb_env_open(r->env, path, MDB_RDONLY | MDB_NOTLS, 0);
	if (rc == EACCES || rc == EROFS) {
		/* lock.mdb is not ours to write: read unregistered. */
		mdb_env_close(r->env);
		if ((rc = mdb_env_create(&r->env)) != 0 ||
		    (rc = mdb_env_set_maxdbs(r->env, 8)) != 0)
			goto fail;
		rc = mdb_env_open(r->env, path,
		                  MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK, 0);
	}
	if (rc != 0)
		goto fail;
	if ((rc = reader_snapshot(r)) != 0)
		goto fail;
	if (r->version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s: store schema version %u is newer than this "
		         "spackle's (%u)",
		         path, r->version, STORE_SCHEMA_VERSION);
		store_reader_close(r);
		return -1;
	}
	*rp = r;
	return 0;
fail:
	if (creation_cut_short(st.st_size, rc))
		snprintf(err, errlen,
		         "the store at %s is empty: the daemon was stopped "
		         "while it created it, before anything was written; "
		         "the daemon creates it again when it next starts",
		         path);
	else
		snprintf(err, errlen, "%s: cannot open the store: %s", path,
		         mdb_strerror(rc));
	if (r != NULL && r->env != NULL)
		mdb_env_close(r->env);
	free(r);
	return -1;
}

int
store_reader_attach(struct store_reader **rp, struct store *s, char *err,
                    size_t errlen)
{
	struct store_reader *r;
	int rc;

	*rp = NULL;
	if (s == NULL) {
		snprintf(err, errlen, "the daemon runs without a store");
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->env = s->env;
	r->attached = true;
	snprintf(r->path, sizeof(r->path), "%s", s->path);
	if ((rc = reader_snapshot(r)) != 0) {
		snprintf(err, errlen, "%s: cannot read the store: %s", s->path,
		         mdb_strerror(rc));
		free(r);
		return -1;
	}
	*rp = r;
	return 0;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	if (r->txn != NULL)
		mdb_txn_abort(r->txn);
	if (!r->attached)
		mdb_env_close(r->env);
	free(r);
}

int
store_reader_refresh(struct store_reader *r)
{
	if (r->txn != NULL)
		mdb_txn_abort(r->txn);
	r->txn = NULL;
	return reader_snapshot(r) == 0 ? 0 : -1;
}

unsigned
store_reader_version(const struct store_reader *r)
{
	return r->version;
}

int
store_reader_flows(struct store_reader *r, bool reverse, store_flow_fn fn,
                   void *arg, uint64_t *bad)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct store_flow f;
	int rc, op, ret = 0;

	if (!r->has_flows)
		return 0;
	if ((rc = mdb_cursor_open(r->txn, r->flows, &c)) != 0)
		return -EIO;
	for (op = reverse ? MDB_LAST : MDB_FIRST;
	     mdb_cursor_get(c, &k, &v, op) == 0;
	     op = reverse ? MDB_PREV : MDB_NEXT) {
		if (k.mv_size != 8 ||
		    !store_flow_decode(r->version, getbe64(k.mv_data),
		                       v.mv_data, v.mv_size, &f)) {
			if (bad != NULL)
				(*bad)++;
			continue;
		}
		if ((ret = fn(&f, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return ret;
}

int
store_reader_flow(struct store_reader *r, uint64_t id, struct store_flow *out)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;

	if (!r->has_flows)
		return -ENOENT;
	putbe64(kb, id);
	if (mdb_get(r->txn, r->flows, &k, &v) != 0)
		return -ENOENT;
	if (!store_flow_decode(r->version, id, v.mv_data, v.mv_size, out))
		return -EBADMSG;
	return 0;
}

int
store_reader_events(struct store_reader *r, uint64_t since_ns,
                    store_event_fn fn, void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t kb[EVENT_KEY] = {0};
	struct store_event e;
	int op = MDB_SET_RANGE, ret = 0;

	if (!r->has_events)
		return 0;
	if (mdb_cursor_open(r->txn, r->events, &c) != 0)
		return -EIO;
	putbe64(kb, since_ns);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	for (; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
		if (!store_event_decode(k.mv_data, k.mv_size, v.mv_data,
		                        v.mv_size, &e))
			continue;
		if ((ret = fn(&e, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return ret;
}

size_t
store_reader_names(struct store_reader *r, const struct sp_addr *addr,
                   const char **names, uint64_t *expiry, size_t max)
{
	struct store_name_entry e[SP_NAMES_PER_ADDR];
	uint8_t kb[NAMES_KEY];
	MDB_val k = {NAMES_KEY, kb}, v;
	size_t n, i;

	if (!r->has_names)
		return 0;
	store_names_key(addr, kb);
	if (mdb_get(r->txn, r->names, &k, &v) != 0)
		return 0;
	n = store_names_decode(v.mv_data, v.mv_size, e, SP_NAMES_PER_ADDR);
	for (i = 0; i < n && i < max; i++) {
		names[i] = e[i].name;
		expiry[i] = e[i].expiry;
	}
	return i;
}

int
store_reader_meta_u64(struct store_reader *r, const char *key, uint64_t *out)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;

	if (!r->has_meta || mdb_get(r->txn, r->meta, &k, &v) != 0)
		return -ENOENT;
	if (v.mv_size == 4)
		*out = get32(v.mv_data);
	else if (v.mv_size == 8)
		*out = get64(v.mv_data);
	else
		return -ENOENT;
	return 0;
}

int
store_reader_counts(struct store_reader *r, struct store_counts *c)
{
	MDB_stat st;

	memset(c, 0, sizeof(*c));
	if (r->has_flows && mdb_stat(r->txn, r->flows, &st) == 0)
		c->flows = st.ms_entries;
	if (r->has_events && mdb_stat(r->txn, r->events, &st) == 0)
		c->events = st.ms_entries;
	if (r->has_names && mdb_stat(r->txn, r->names, &st) == 0)
		c->names = st.ms_entries;
	if (r->has_meta && mdb_stat(r->txn, r->meta, &st) == 0)
		c->meta = st.ms_entries;
	return 0;
}
