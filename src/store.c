/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The decision store in LMDB: open (creating, migrating), close, counters. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/store_int.h"

#define STORE_STARTS_MAX 100 /* daemon start times kept in meta */

/* ---- opening, migrations ------------------------------------------------- */

/*
 * Schema migrations: entry N takes a store of version N to N+1 inside the
 * opening transaction. Readers decode every older flow layout, so a store
 * the daemon has not reopened yet still reads.
 */
typedef int (*store_migration)(struct store *s, MDB_txn *txn);

/* v0 -> v1: flow records gain a format byte, flags and string lengths. */
static int
migrate_0_1(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct store_flow r;
	uint8_t *buf = NULL, key[8];
	size_t cap = 0, n;
	int rc, op;

	if ((rc = mdb_cursor_open(txn, s->flows, &c)) != 0)
		return rc;
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		if (k.mv_size != 8 ||
		    !store_flow_decode(0, getbe64(k.mv_data), v.mv_data,
		                       v.mv_size, &r)) {
			/* Unreadable in any version: it goes. */
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
			continue;
		}
		n = store_flow_size(&r);
		if (n > cap) {
			uint8_t *nb = realloc(buf, n);

			if (nb == NULL) {
				rc = ENOMEM;
				break;
			}
			buf = nb;
			cap = n;
		}
		/* r's views point into the old value: encode before the put. */
		store_flow_encode(&r, buf, n);
		memcpy(key, k.mv_data, 8);
		k.mv_data = key;
		v.mv_size = n;
		v.mv_data = buf;
		if ((rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT)) != 0)
			break;
	}
	mdb_cursor_close(c);
	free(buf);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static const store_migration store_migrations[STORE_SCHEMA_VERSION] = {
        migrate_0_1,
};

static int
store_mkdir(const char *path, char *err, size_t errlen)
{
	char buf[SP_PATH_MAX], *p;

	if (strlen(path) >= sizeof(buf) || path[0] == '\0') {
		snprintf(err, errlen, "store path \"%s\" is empty or too long",
		         path);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
	return -1;
}

/*
 * The store is readable by the group STORE_GROUP when it exists (as the
 * control socket is): `spackle log` for its members without root.
 */
static void
store_share(const char *path)
{
	static const char *const files[] = {"", "/data.mdb", "/lock.mdb"};
	struct group gr, *res = NULL;
	char buf[4096], f[SP_PATH_MAX + 16];
	size_t i;

	if (geteuid() != 0 ||
	    getgrnam_r(STORE_GROUP, &gr, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(f, sizeof(f), "%s%s", path, files[i]);
		if (chown(f, (uid_t)-1, gr.gr_gid) != 0)
			log_warn("store %s: chown to group %s: %s", f,
			         STORE_GROUP, strerror(errno));
	}
}

/* Keep the last STORE_STARTS_MAX start times. */
static int
meta_trim_starts(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k = {6, (void *)"start/"}, v;
	size_t n = 0;
	int rc, op;

	if ((rc = mdb_cursor_open(txn, s->meta, &c)) != 0)
		return rc;
	for (op = MDB_SET_RANGE;
	     mdb_cursor_get(c, &k, &v, op) == 0 && k.mv_size > 6 &&
	     memcmp(k.mv_data, "start/", 6) == 0;
	     op = MDB_NEXT)
		n++;
	k.mv_size = 6;
	k.mv_data = (void *)"start/";
	for (; n > STORE_STARTS_MAX; n--) {
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0 ||
		    (rc = mdb_cursor_del(c, 0)) != 0)
			break;
		k.mv_size = 6;
		k.mv_data = (void *)"start/";
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Open the databases, migrate, record this start. */
static int
store_prepare(struct store *s, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t now = sp_now_wall();
	unsigned version = STORE_SCHEMA_VERSION, i;
	uint8_t sk[6 + 8];
	char text[96];
	bool fresh;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail_nt;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0)
		goto fail;
	rc = mdb_dbi_open(txn, "flows", 0, &s->flows);
	fresh = rc == MDB_NOTFOUND;
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "flows", MDB_CREATE, &s->flows)) != 0 ||
	    (rc = mdb_dbi_open(txn, "events", MDB_CREATE, &s->events)) != 0 ||
	    (rc = mdb_dbi_open(txn, "names", MDB_CREATE, &s->names)) != 0)
		goto fail;
	k.mv_size = 7;
	k.mv_data = (void *)"version";
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == 0 && v.mv_size == 4)
		version = get32(v.mv_data);
	else if (rc == MDB_NOTFOUND)
		version = fresh ? STORE_SCHEMA_VERSION : 0;
	else
		goto fail;
	if (version > STORE_SCHEMA_VERSION) {
		mdb_txn_abort(txn);
		snprintf(err, errlen,
		         "%s holds a store of schema version %u, newer than "
		         "this "
		         "spackle's (%u): use a newer spackle or another `db`",
		         s->path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
	for (i = version; i < STORE_SCHEMA_VERSION; i++) {
		if ((rc = store_migrations[i](s, txn)) != 0) {
			mdb_txn_abort(txn);
			snprintf(err, errlen,
			         "%s: migrating the store from version %u to "
			         "%u: "
			         "%s",
			         s->path, i, i + 1, mdb_strerror(rc));
			return -1;
		}
		log_info("store %s: migrated from schema version %u to %u",
		         s->path, i, i + 1);
	}
	{
		uint8_t b[4];

		put32(b, STORE_SCHEMA_VERSION);
		v.mv_size = 4;
		v.mv_data = b;
		if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
			goto fail;
	}
	if ((rc = store_meta_put_u64(s, txn, "last_start", now)) != 0)
		goto fail;
	memcpy(sk, "start/", 6);
	putbe64(sk + 6, now);
	k.mv_size = sizeof(sk);
	k.mv_data = sk;
	snprintf(text, sizeof(text), "pid %d, spackle %s", (int)getpid(),
	         SPACKLE_VERSION);
	v.mv_size = strlen(text) + 1;
	v.mv_data = text;
	if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0 ||
	    (rc = meta_trim_starts(s, txn)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail_nt;
	return 0;
fail:
	mdb_txn_abort(txn);
fail_nt:
	snprintf(err, errlen, "%s: opening the store: %s", s->path,
	         mdb_strerror(rc));
	return -1;
}

/* The environment, read-write: s->env, or an LMDB error and NULL. */
static int
store_env_open(struct store *s)
{
	int rc;

	if ((rc = mdb_env_create(&s->env)) != 0)
		return rc;
	if ((rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)s->cfg.max_size)) != 0 ||
	    (rc = mdb_env_open(s->env, s->path, MDB_NOTLS, 0640)) != 0) {
		mdb_env_close(s->env);
		s->env = NULL;
	}
	return rc;
}

/*
 * LMDB refused data.mdb (MDB_INVALID). A writer stopped while LMDB created
 * the file can leave it shorter than the two meta pages that LMDB writes
 * first, in one write, before anything else: nothing was ever stored
 * there, and LMDB would refuse it for good. Empty it, for LMDB to create
 * it again (an empty file LMDB takes as new); true when it did. Anything
 * longer is left alone.
 */
static bool
store_recreate(struct store *s)
{
	char data[SP_PATH_MAX + 16];
	struct stat st;

	snprintf(data, sizeof(data), "%s/data.mdb", s->path);
	if (stat(data, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    st.st_size >= 2 * sysconf(_SC_PAGESIZE) || truncate(data, 0) != 0)
		return false;
	log_warn("store %s: data.mdb was left unfinished when it was created "
	         "(%lld bytes): created again",
	         s->path, (long long)st.st_size);
	return true;
}

static unsigned
pow2_at_least(uint64_t n)
{
	uint64_t v = STORE_MIN_QUEUE;

	while (v < n && v < (1ull << 30))
		v <<= 1;
	return (unsigned)v;
}

static void
store_free(struct store *s)
{
	unsigned i;

	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (s->prod != NULL)
		for (i = 0; i < s->nprod; i++)
			free(s->prod[i].buf);
	free(s->prod);
	free(s->snap);
	free(s->fl);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int
store_open(struct store **sp, const struct store_config *cfg, char *err,
           size_t errlen)
{
	struct store *s;
	MDB_envinfo info;
	MDB_stat st;
	char lock[SP_PATH_MAX + 16];
	unsigned i, qb;
	int rc;

	*sp = NULL;
	if (cfg == NULL || cfg->path == NULL) {
		snprintf(err, errlen, "no store path");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto oom;
	s->efd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->cfg = *cfg;
	snprintf(s->path, sizeof(s->path), "%s", cfg->path);
	s->cfg.path = s->path;
	if (s->cfg.max_size == 0)
		s->cfg.max_size = STORE_DEFAULT_MAX_SIZE;
	if (s->cfg.max_size < STORE_MIN_MAX_SIZE)
		s->cfg.max_size = STORE_MIN_MAX_SIZE;
	if (s->cfg.flush_ms == 0)
		s->cfg.flush_ms = STORE_DEFAULT_FLUSH_MS;
	if (s->cfg.flush_records == 0)
		s->cfg.flush_records = STORE_DEFAULT_FLUSH_RECORDS;
	if (s->cfg.queue_bytes == 0)
		s->cfg.queue_bytes = STORE_DEFAULT_QUEUE;
	if (s->cfg.producers == 0)
		s->cfg.producers = 1;
	if (s->cfg.prune_interval_ms == 0)
		s->cfg.prune_interval_ms = 60000;
	if (s->cfg.prune_at_pct == 0 || s->cfg.prune_at_pct > 100)
		s->cfg.prune_at_pct = 80;
	s->limit = s->cfg.flush_records;
	s->lim.interval_s = 60;
	s->lim.burst = 5;
	if (store_mkdir(s->path, err, errlen) != 0)
		goto fail;
	if ((rc = store_env_open(s)) == MDB_INVALID && store_recreate(s))
		rc = store_env_open(s);
	if (rc != 0)
		goto fail_lmdb;
	/* Readers register in lock.mdb: members of the group may read. */
	snprintf(lock, sizeof(lock), "%s/lock.mdb", s->path);
	chmod(lock, 0660);
	store_share(s->path);
	mdb_reader_check(s->env, NULL);
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	s->map_size = info.me_mapsize;
	s->txn_bytes = s->map_size / 32;
	s->psize = st.ms_psize;
	if (store_prepare(s, err, errlen) != 0)
		goto fail;
	s->nprod = s->cfg.producers;
	qb = pow2_at_least(s->cfg.queue_bytes);
	s->prod = aligned_alloc(64, sizeof(*s->prod) * s->nprod);
	s->snap = calloc(s->nprod, sizeof(*s->snap));
	if (s->prod == NULL || s->snap == NULL)
		goto oom;
	memset(s->prod, 0, sizeof(*s->prod) * s->nprod);
	for (i = 0; i < s->nprod; i++) {
		s->prod[i].s = s;
		s->prod[i].cap = qb;
		s->prod[i].mask = qb - 1;
		/* Its pages are mapped as the first lap comes to them. */
		if ((s->prod[i].buf = malloc(qb)) == NULL)
			goto oom;
		sp_ahead_init(&s->prod[i].ahead, s->prod[i].buf, qb);
	}
	if ((s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((rc = pthread_create(&s->th, NULL, store_writer_main, s)) != 0) {
		snprintf(err, errlen, "cannot start the store writer: %s",
		         strerror(rc));
		goto fail;
	}
	s->started = true;
	*sp = s;
	return 0;
fail_lmdb:
	snprintf(err, errlen, "%s: %s", s->path, mdb_strerror(rc));
	goto fail;
oom:
	snprintf(err, errlen, "store: out of memory");
fail:
	store_free(s);
	return -1;
}

void
store_close(struct store *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	if (s->started) {
		atomic_store(&s->stopping, true);
		if (write(s->efd, &one, sizeof(one)) < 0) {
			/* full counter: the writer is awake */
		}
		pthread_join(s->th, NULL);
		s->started = false;
	}
	store_free(s);
}

/* ---- counters ------------------------------------------------------------ */

void
store_stats(const struct store *s, struct store_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	if (s == NULL)
		return;
	for (i = 0; i < s->nprod; i++) {
		st->queued += atomic_load_explicit(&s->prod[i].queued,
		                                   memory_order_relaxed);
		st->lost += atomic_load_explicit(&s->prod[i].lost,
		                                 memory_order_relaxed);
		st->deferred += atomic_load_explicit(&s->prod[i].deferred,
		                                     memory_order_relaxed);
	}
	st->written = atomic_load(&s->written);
	st->flushes = atomic_load(&s->flushes);
	st->errors = atomic_load(&s->errors);
	st->map_full = atomic_load(&s->map_full);
	st->pruned_full = atomic_load(&s->pruned_full);
	st->pruned_age = atomic_load(&s->pruned_age);
	st->last_commit_ns = atomic_load(&s->last_commit_ns);
	st->map_size = atomic_load(&s->map_size);
	st->map_used = atomic_load(&s->map_used);
}
