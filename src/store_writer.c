/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's writer thread: rings drained in batched transactions, pruning. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/store_int.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

static void
writer_log(struct store *s, const char *what, int rc)
{
	uint64_t held = 0;

	if (log_limit_ok(&s->lim, sp_now_mono(), &held))
		log_err("store %s: %s: %s (%llu more not logged)", s->path,
		        what, mdb_strerror(rc), (unsigned long long)held);
}

/* Merge one name into the names kept for its address. */
static int
writer_name(struct store *s, MDB_txn *txn, const uint8_t *d, size_t len)
{
	struct store_name_entry e[SP_NAMES_PER_ADDR + 1];
	uint8_t buf[NAMES_FIXED + (SP_NAMES_PER_ADDR + 1) * (11 + 256)];
	MDB_val key = {NAMES_KEY, (void *)(uintptr_t)d}, val;
	size_t n = 0, i, nl, out;
	uint64_t expiry;
	const char *name = (const char *)d + NAMES_KEY + 9;
	int rc;

	if (len < NAMES_KEY + 9 || len - NAMES_KEY - 9 > SP_NAME_MAX)
		return 0;
	nl = len - NAMES_KEY - 9;
	expiry = get64(d + NAMES_KEY);
	rc = mdb_get(txn, s->names, &key, &val);
	if (rc == 0)
		n = store_names_decode(val.mv_data, val.mv_size, e,
		                       SP_NAMES_PER_ADDR);
	else if (rc != MDB_NOTFOUND)
		return rc;
	for (i = 0; i < n; i++)
		if (e[i].len == nl && memcmp(e[i].name, name, nl) == 0)
			break;
	if (i == n) {
		/* A new name: the one expiring first makes room. */
		if (n == SP_NAMES_PER_ADDR) {
			size_t j, min = 0;

			for (j = 1; j < n; j++)
				if (e[j].expiry < e[min].expiry)
					min = j;
			e[min] = e[n - 1];
			n--;
			i = n;
		}
		e[i].expiry = 0;
		n++;
	}
	e[i].name = name;
	e[i].len = (uint8_t)nl;
	e[i].source = d[NAMES_KEY + 8];
	if (expiry > e[i].expiry)
		e[i].expiry = expiry;
	/* Views into val die with the put: encode first, then put a copy. */
	if ((out = store_names_encode(e, n, buf, sizeof(buf))) == 0)
		return 0;
	val.mv_size = out;
	val.mv_data = buf;
	return mdb_put(txn, s->names, &key, &val, 0);
}

/* A flow record of the open transaction, as writer_put_flows() takes it. */
struct writer_flow {
	const uint8_t *d; /* the record: its 8-byte key, then the value */
	uint32_t len;
	uint32_t seq; /* the order it came in: of one flow's, the last wins */
};

/* Keep a flow record for writer_put_flows(); false without the memory
 * (then it is put at once, as it comes). */
static bool
writer_defer_flow(struct store *s, const uint8_t *d, size_t len)
{
	struct writer_flow *fl;
	size_t cap;

	if (s->nfl == s->fl_cap) {
		cap = s->fl_cap ? s->fl_cap * 2 : 1024;
		if ((fl = realloc(s->fl, cap * sizeof(*fl))) == NULL)
			return false;
		s->fl = fl;
		s->fl_cap = cap;
	}
	s->fl[s->nfl].d = d;
	s->fl[s->nfl].len = (uint32_t)len;
	s->fl[s->nfl].seq = (uint32_t)s->nfl;
	s->nfl++;
	return true;
}

static int
writer_flow_cmp(const void *a, const void *b)
{
	const struct writer_flow *x = a, *y = b;
	int c = memcmp(x->d, y->d, 8);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The transaction's flow records in key order. A new flow's id is above
 * every id stored, so it is appended (MDB_APPEND), which leaves the page
 * it fills full, where an ordinary put of ascending keys splits every
 * page in halves: half the pages to write at each commit and to keep on
 * disk. The ends of flows, updates of records stored, come in the order
 * of their pages. Of two records of one flow, the later is put.
 */
static int
writer_put_flows(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val key, val, lk, lv;
	uint8_t last[8];
	bool have_last;
	unsigned flags;
	size_t i, n = s->nfl;
	int rc;

	s->nfl = 0;
	if (n == 0)
		return 0;
	qsort(s->fl, n, sizeof(*s->fl), writer_flow_cmp);
	if ((rc = mdb_cursor_open(txn, s->flows, &c)) != 0)
		return rc;
	rc = mdb_cursor_get(c, &lk, &lv, MDB_LAST);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	have_last = rc == 0 && lk.mv_size == sizeof(last);
	if (have_last)
		memcpy(last, lk.mv_data, sizeof(last));
	rc = 0;
	for (i = 0; i < n; i++) {
		const struct writer_flow *f = &s->fl[i];

		/* A later record of this flow follows. */
		if (i + 1 < n && memcmp(f->d, s->fl[i + 1].d, 8) == 0)
			continue;
		key.mv_size = 8;
		key.mv_data = (void *)(uintptr_t)f->d;
		val.mv_size = f->len - 8;
		val.mv_data = (void *)(uintptr_t)(f->d + 8);
		flags = !have_last || memcmp(f->d, last, 8) > 0 ? MDB_APPEND
		                                                : 0;
		if ((rc = mdb_cursor_put(c, &key, &val, flags)) != 0)
			break;
		if (flags == MDB_APPEND) {
			memcpy(last, f->d, sizeof(last));
			have_last = true;
		}
	}
out:
	mdb_cursor_close(c);
	return rc;
}

static int
writer_apply(struct store *s, MDB_txn *txn, uint8_t kind, const uint8_t *d,
             size_t len)
{
	MDB_val key, val;
	uint8_t k[EVENT_KEY];
	int rc;

	switch (kind) {
	case RING_FLOW:
		if (len < 8 || writer_defer_flow(s, d, len))
			return 0;
		/* No memory to keep it for later: the ones kept go first, so
		 * that a flow's later record still wins. */
		if ((rc = writer_put_flows(s, txn)) != 0)
			return rc;
		key.mv_size = 8;
		key.mv_data = (void *)(uintptr_t)d;
		val.mv_size = len - 8;
		val.mv_data = (void *)(uintptr_t)(d + 8);
		return mdb_put(txn, s->flows, &key, &val, 0);
	case RING_EVENT:
		if (len < 8 + EVENT_FIXED)
			return 0;
		putbe64(k, get64(d));
		k[8] = (uint8_t)(s->seq >> 24);
		k[9] = (uint8_t)(s->seq >> 16);
		k[10] = (uint8_t)(s->seq >> 8);
		k[11] = (uint8_t)s->seq;
		s->seq++;
		key.mv_size = EVENT_KEY;
		key.mv_data = k;
		val.mv_size = len - 8;
		val.mv_data = (void *)(uintptr_t)(d + 8);
		return mdb_put(txn, s->events, &key, &val, 0);
	case RING_NAME:
		return writer_name(s, txn, d, len);
	}
	return 0;
}

int
store_meta_put_u64(struct store *s, MDB_txn *txn, const char *k, uint64_t v)
{
	uint8_t b[8];
	MDB_val key = {strlen(k), (void *)(uintptr_t)k}, val = {8, b};

	put64(b, v);
	return mdb_put(txn, s->meta, &key, &val, 0);
}

static uint64_t
store_lost_total(const struct store *s)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < s->nprod; i++)
		n += atomic_load_explicit(&s->prod[i].lost,
		                          memory_order_relaxed);
	return n;
}

/*
 * Records lost since the last flush become an event, and the total a meta
 * key that `audit` reads without the daemon.
 */
static int
writer_note_lost(struct store *s, MDB_txn *txn)
{
	uint64_t lost = store_lost_total(s), prev;
	char text[128];
	uint8_t v[EVENT_FIXED + sizeof(text)], k[EVENT_KEY];
	MDB_val key = {EVENT_KEY, k}, val;
	size_t n;
	int rc;

	s->lost_noting = lost;
	if (lost == s->lost_saved)
		return 0;
	prev = 0;
	{
		MDB_val mk = {4, (void *)"lost"}, mv;

		if (mdb_get(txn, s->meta, &mk, &mv) == 0 && mv.mv_size == 8)
			prev = get64(mv.mv_data);
	}
	n = (size_t)snprintf(text, sizeof(text),
	                     "{\"store_lost\":%llu,\"since_open\":%llu}",
	                     (unsigned long long)(lost - s->lost_saved),
	                     (unsigned long long)lost);
	val.mv_size = store_event_encode(v, STORE_EV_DROPS, 0, text, n);
	val.mv_data = v;
	putbe64(k, sp_now_wall());
	memset(k + 8, 0xff, 4); /* after the records of the same instant */
	if ((rc = mdb_put(txn, s->events, &key, &val, 0)) != 0)
		return rc;
	return store_meta_put_u64(s, txn, "lost",
	                          prev + (lost - s->lost_saved));
}

/* Free pages in the map: pages past the last used one, plus the freelist. */
static uint64_t
writer_used_pages(struct store *s, MDB_txn *txn)
{
	MDB_envinfo info;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t free_pages = 0;

	mdb_env_info(s->env, &info);
	if (mdb_cursor_open(txn, 0, &c) != 0)
		return info.me_last_pgno + 1;
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
		if (v.mv_size >= sizeof(size_t))
			free_pages += *(const size_t *)v.mv_data;
	mdb_cursor_close(c);
	return info.me_last_pgno + 1 > free_pages
	               ? info.me_last_pgno + 1 - free_pages
	               : 0;
}

/* Delete the first n records of dbi; returns how many went. */
static int
delete_oldest(MDB_txn *txn, MDB_dbi dbi, uint64_t n, uint64_t *done)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*done = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	while (*done < n && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		(*done)++;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * LMDB reuses a page only once a transaction newer than the one that freed
 * it has committed (the previous meta page still points at it). A small
 * commit right after a prune makes the pruned pages usable at once.
 * Returns an LMDB code.
 */
static int
writer_touch(struct store *s)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	rc = store_meta_put_u64(s, txn, "last_prune", sp_now_wall());
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/*
 * Make room: delete the oldest flows and events, an eighth of each (at
 * least `min` records), in a transaction of its own. A map so full that
 * even the deletion fails is retried with halved batches. Returns the
 * records deleted.
 */
static uint64_t
writer_prune_full(struct store *s, uint64_t min)
{
	MDB_txn *txn;
	MDB_stat fs, es;
	uint64_t nf, ne, df = 0, de = 0, size, more, cap = UINT64_MAX;
	bool grown = false;
	int rc;

	for (;;) {
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
			return 0;
		mdb_stat(txn, s->flows, &fs);
		mdb_stat(txn, s->events, &es);
		if (fs.ms_entries + es.ms_entries == 0) {
			mdb_txn_abort(txn);
			return 0;
		}
		nf = fs.ms_entries / 8 > min ? fs.ms_entries / 8 : min;
		ne = es.ms_entries / 8 > min ? es.ms_entries / 8 : min;
		nf = nf < cap ? nf : cap;
		ne = ne < cap ? ne : cap;
		rc = delete_oldest(txn, s->flows, nf, &df);
		if (rc == 0)
			rc = delete_oldest(txn, s->events, ne, &de);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc == 0) {
			atomic_fetch_add(&s->pruned_full, df + de);
			/* The deletion stands; without the touch its pages are
			 * reused one commit later. */
			if ((rc = writer_touch(s)) != 0)
				writer_log(s,
				           "committing after pruning (the "
				           "freed pages wait for the next "
				           "commit)",
				           rc);
			return df + de;
		}
		if (rc == MDB_MAP_FULL && cap <= 1 && !grown &&
		    s->grown < (s->cfg.max_size / 16 > 32 * s->psize
		                        ? s->cfg.max_size / 16
		                        : 32 * s->psize)) {
			/* Not even one deletion fits (which the 1/32 batches
			 * should prevent): grow the map a little, once, so
			 * that writing can go on. */
			size = atomic_load(&s->map_size);
			more = size / 64 > 32 * s->psize ? size / 64
			                                 : 32 * s->psize;
			if (mdb_env_set_mapsize(s->env,
			                        (size_t)(size + more)) == 0) {
				atomic_store(&s->map_size, size + more);
				s->grown += more;
				log_warn("store %s: the map is too full to "
				         "delete from; grown by %llu KiB",
				         s->path,
				         (unsigned long long)more >> 10);
				grown = true;
				cap = UINT64_MAX;
				continue;
			}
		}
		if (rc != MDB_MAP_FULL || cap <= 1) {
			writer_log(s, "pruning the oldest records", rc);
			return 0;
		}
		/* Fewer at a time: each deletion copies pages too. */
		cap = (nf > ne ? nf : ne) / 2;
	}
}

/*
 * Map in use after a commit; prune ahead when it passes 80%. With at most
 * 1/32 of the map written per transaction, a commit never fills the map:
 * a full map cannot even delete (a deletion copies pages too).
 */
static void
writer_check_room(struct store *s)
{
	MDB_envinfo info;
	MDB_txn *txn;
	uint64_t pages = atomic_load(&s->map_size) / s->psize, used;

	mdb_env_info(s->env, &info);
	if ((info.me_last_pgno + 1) * 10 < pages * 7) {
		/* Pages past the last one used were never used: no need to
		 * count the free list. */
		atomic_store(&s->map_used, (info.me_last_pgno + 1) * s->psize);
		return;
	}
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return;
	used = writer_used_pages(s, txn);
	mdb_txn_abort(txn);
	atomic_store(&s->map_used, used * s->psize);
	if (used * 100 >= pages * s->cfg.prune_at_pct)
		writer_prune_full(s, 64);
}

/*
 * One transaction: up to `limit` records from the rings, oldest ring
 * position first, as far as the heads seen at the start of the flush.
 * When `apply` is false the records are skipped (dropped after an error).
 * On success the rings get their space back. Returns an LMDB code.
 */
static int
writer_batch(struct store *s, unsigned limit, bool apply, uint64_t *count)
{
	MDB_txn *txn = NULL;
	struct store_producer *p;
	uint64_t n = 0, t, bytes = 0;
	unsigned i;
	int rc = 0;

	*count = 0;
	s->nfl = 0;
	if (apply && (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	for (i = 0; i < s->nprod; i++) {
		p = &s->prod[i];
		p->w_tail =
		        atomic_load_explicit(&p->tail, memory_order_relaxed);
		p->w_popped =
		        atomic_load_explicit(&p->popped, memory_order_relaxed);
		while (p->w_tail < s->snap[i] && n < limit &&
		       (n == 0 || bytes < s->txn_bytes)) {
			const uint8_t *h = p->buf + (p->w_tail & p->mask);
			uint32_t len = get32(h);

			t = (RING_HDR + (uint64_t)len + 7) & ~(uint64_t)7;
			if (h[4] != RING_PAD) {
				if (apply &&
				    (rc = writer_apply(s, txn, h[4],
				                       h + RING_HDR, len)) != 0)
					goto fail;
				n++;
				bytes += len;
				p->w_popped++;
			}
			p->w_tail += t;
		}
	}
	if (apply && (rc = writer_put_flows(s, txn)) != 0)
		goto fail;
	if (apply && (rc = writer_note_lost(s, txn)) != 0)
		goto fail;
	if (apply && (rc = mdb_txn_commit(txn)) != 0)
		return rc;
	if (apply)
		s->lost_saved = s->lost_noting;
	for (i = 0; i < s->nprod; i++) {
		p = &s->prod[i];
		atomic_store_explicit(&p->popped, p->w_popped,
		                      memory_order_release);
		atomic_store_explicit(&p->tail, p->w_tail,
		                      memory_order_release);
	}
	*count = n;
	return 0;
fail:
	mdb_txn_abort(txn);
	return rc;
}

static bool
writer_pending(struct store *s)
{
	unsigned i;

	for (i = 0; i < s->nprod; i++)
		if (atomic_load_explicit(&s->prod[i].tail,
		                         memory_order_relaxed) < s->snap[i])
			return true;
	return false;
}

/* Write what the rings hold now, a transaction per `limit` records. */
static void
writer_flush(struct store *s)
{
	uint64_t n, now;
	unsigned i, prunes = 0, resized = 0;
	bool lost = store_lost_total(s) != s->lost_saved;
	int rc;

	for (i = 0; i < s->nprod; i++)
		s->snap[i] = atomic_load_explicit(&s->prod[i].head,
		                                  memory_order_acquire);
	while (writer_pending(s) || lost) {
		rc = writer_batch(s, s->limit, true, &n);
		if (rc == 0) {
			lost = false;
			s->prune_stuck_until = 0;
			atomic_fetch_add(&s->written, n);
			atomic_fetch_add(&s->flushes, 1);
			atomic_store(&s->last_commit_ns, sp_now_wall());
			if (s->limit < s->cfg.flush_records)
				s->limit = s->limit * 2 < s->cfg.flush_records
				                   ? s->limit * 2
				                   : s->cfg.flush_records;
			writer_check_room(s);
			if (s->cfg.committed != NULL)
				s->cfg.committed(s->cfg.committed_arg);
			continue;
		}
		now = sp_now_mono();
		if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
			atomic_fetch_add(&s->map_full, 1);
			/*
			 * Make room and write the batch again. Pruning stops
			 * helping when a reader's old snapshot pins the pages
			 * it frees: then at most one try a second.
			 */
			if (rc == MDB_MAP_FULL && prunes < 3 &&
			    now >= s->prune_stuck_until &&
			    writer_prune_full(s, 64) > 0) {
				prunes++;
				continue;
			}
			/* The batch may be too big for the room left: write
			 * it in halves. */
			if (s->limit > 1) {
				s->limit /= 2;
				continue;
			}
			if (prunes > 0)
				s->prune_stuck_until = now + NS_PER_S;
		}
		if (rc == MDB_MAP_RESIZED && resized++ == 0 &&
		    mdb_env_set_mapsize(s->env, 0) == 0)
			continue;
		/* No way to write them now: drop what this flush holds (the
		 * rings must drain), count it, go on. */
		writer_log(s, "writing records, dropped", rc);
		while (writer_pending(s)) {
			writer_batch(s, UINT32_MAX, false, &n);
			atomic_fetch_add(&s->errors, n);
		}
		lost = false;
	}
}

/* Delete flows, events and names older than max_age, in batches. */
static void
writer_prune_age(struct store *s)
{
	uint64_t now = sp_now_wall(), cutoff, gone = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	struct store_flow r;
	struct store_name_entry e[SP_NAMES_PER_ADDR];
	unsigned batch;
	size_t i, n;
	int rc, op;
	bool more = true;

	if (s->cfg.max_age_s == 0 || now < s->cfg.max_age_s * NS_PER_S)
		return;
	cutoff = now - s->cfg.max_age_s * NS_PER_S;
	mdb_reader_check(s->env, NULL);
	while (more) {
		more = false;
		batch = 0;
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
			break;
		/* Flows: ids are creation times, so only ids below the cutoff
		 * can be old; a long-lived one among them is kept. */
		if (mdb_cursor_open(txn, s->flows, &c) == 0) {
			for (op = MDB_FIRST; batch < 10000 &&
			                     mdb_cursor_get(c, &k, &v, op) == 0;
			     op = MDB_NEXT) {
				if (k.mv_size != 8 ||
				    getbe64(k.mv_data) >= cutoff)
					break;
				if (store_flow_decode(1, getbe64(k.mv_data),
				                      v.mv_data, v.mv_size,
				                      &r) &&
				    r.last_ns >= cutoff)
					continue;
				/* The cursor now sits on the next record,
				 * which MDB_NEXT returns without moving. */
				if (mdb_cursor_del(c, 0) != 0)
					break;
				batch++;
			}
			mdb_cursor_close(c);
		}
		if (mdb_cursor_open(txn, s->events, &c) == 0) {
			while (batch < 20000 &&
			       mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 &&
			       k.mv_size >= 8 && getbe64(k.mv_data) < cutoff &&
			       mdb_cursor_del(c, 0) == 0)
				batch++;
			mdb_cursor_close(c);
		}
		if (mdb_cursor_open(txn, s->names, &c) == 0) {
			for (op = MDB_FIRST; batch < 30000 &&
			                     mdb_cursor_get(c, &k, &v, op) == 0;
			     op = MDB_NEXT) {
				uint64_t last = 0;

				n = store_names_decode(v.mv_data, v.mv_size, e,
				                       SP_NAMES_PER_ADDR);
				for (i = 0; i < n; i++)
					if (e[i].expiry > last)
						last = e[i].expiry;
				if (last >= cutoff)
					continue;
				/* The cursor now sits on the next record,
				 * which MDB_NEXT returns without moving. */
				if (mdb_cursor_del(c, 0) != 0)
					break;
				batch++;
			}
			mdb_cursor_close(c);
		}
		if ((rc = mdb_txn_commit(txn)) != 0) {
			writer_log(s, "pruning old records", rc);
			break;
		}
		gone += batch;
		more = batch >= 10000;
	}
	atomic_fetch_add(&s->pruned_age, gone);
}

void *
store_writer_main(void *arg)
{
	struct store *s = arg;
	struct pollfd pfd = {s->efd, POLLIN, 0};
	uint64_t now, next_flush, next_prune, buf, req;
	sigset_t all;
	int timeout;
	bool stop;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "spackle-store");
	now = sp_now_mono();
	next_flush = now + s->cfg.flush_ms * NS_PER_MS;
	next_prune = now;
	for (;;) {
		now = sp_now_mono();
		timeout = next_flush > now
		                  ? (int)((next_flush - now + NS_PER_MS - 1) /
		                          NS_PER_MS)
		                  : 0;
		if (poll(&pfd, 1, timeout) > 0 &&
		    read(s->efd, &buf, sizeof(buf)) < 0) {
			/* EAGAIN: another wake took it. */
		}
		atomic_store(&s->kicked, false);
		stop = atomic_load(&s->stopping);
		req = atomic_load(&s->sync_req);
		writer_flush(s);
		now = sp_now_mono();
		next_flush = now + s->cfg.flush_ms * NS_PER_MS;
		pthread_mutex_lock(&s->mu);
		s->sync_done = req;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		if (now >= next_prune) {
			writer_prune_age(s);
			next_prune = now + s->cfg.prune_interval_ms * NS_PER_MS;
		}
	}
	return NULL;
}

int
store_sync(struct store *s)
{
	uint64_t want;

	if (s == NULL || !s->started || atomic_load(&s->stopping))
		return -1;
	want = atomic_fetch_add(&s->sync_req, 1) + 1;
	store_kick(s);
	pthread_mutex_lock(&s->mu);
	while (s->sync_done < want)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	return 0;
}
