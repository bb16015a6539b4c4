/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict policy: what a packet gets for each classifier result and
 * mode -- the one function the daemon and replay share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "spackle/mark.h"
#include "spackle/verdict.h"
#include "tests/tools/capgen.h"

struct pkt {
	uint8_t b[CAPGEN_PKT_MAX];
	size_t len;
};

static void
tcp(struct pkt *p, uint8_t flags, uint16_t dport)
{
	struct capgen_pkt c = {.src = "192.0.2.10",
	                       .dst = "203.0.113.7",
	                       .proto = SP_PROTO_TCP,
	                       .sport = 40000,
	                       .dport = dport,
	                       .tcp_flags = flags};

	p->len = capgen_build(p->b, sizeof(p->b), &c);
	assert_true(p->len > 0);
}

/* A result for a packet of flow f with verdict v. */
static struct classify_result
result(struct flow *f, enum sp_verdict v)
{
	struct classify_result r = {PACKET_OK, v, f, false, false};

	return r;
}

static struct flow
flow_to(uint16_t port, uint32_t flags)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.key.proto = SP_PROTO_TCP;
	f.key.pa = 40000;
	f.key.pb = port;
	f.flags = flags;
	return f;
}

/* Enforce mode in packet mode: the classifier's verdict, no mark. */
static void
test_enforce_passes_verdict_through(void **state)
{
	struct verdict_policy pol = {SP_VERDICT_ALLOW, false, false};
	struct flow f = flow_to(443, 0);
	struct classify_result r;
	struct verdict_out o;
	struct pkt p;
	enum sp_verdict v;

	(void)state;
	tcp(&p, PACKET_TCP_SYN, 443);
	for (v = SP_VERDICT_ALLOW; v <= SP_VERDICT_REJECT; v++) {
		r = result(&f, v);
		verdict_decide(&pol, &r, p.b, p.len, &o);
		assert_int_equal(o.verdict, v);
		assert_int_equal(o.decided, v);
		assert_int_equal(o.mark, 0);
		assert_false(o.malformed);
		assert_int_equal(o.capture, v != SP_VERDICT_ALLOW);
	}
	assert_false(f.flags & FLOW_F_MONITOR);
}

/* No flow to judge by: the default decides, counted as malformed. */
static void
test_no_flow_gets_default(void **state)
{
	struct verdict_policy pol = {SP_VERDICT_DENY, false, true};
	struct classify_result r = {PACKET_SHORT, SP_VERDICT_NONE, NULL, false,
	                            false};
	struct verdict_out o;
	uint8_t junk[3] = {0x45, 0, 0};

	(void)state;
	verdict_decide(&pol, &r, junk, sizeof(junk), &o);
	assert_true(o.malformed);
	assert_int_equal(o.verdict, SP_VERDICT_DENY);
	assert_true(o.capture);
	/* Flow mode keeps a deny in a flow's mark; here there is none. */
	assert_int_equal(o.mark, 0);
	/* A parsed packet that no flow took (a later fragment unseen). */
	r.status = PACKET_OK;
	pol.dflt = SP_VERDICT_REJECT;
	verdict_decide(&pol, &r, junk, sizeof(junk), &o);
	assert_true(o.malformed);
	assert_int_equal(o.verdict, SP_VERDICT_REJECT);
}

/* A TCP reset on a rejected flow passes; other rejected packets don't. */
static void
test_reset_of_rejected_flow_passes(void **state)
{
	struct verdict_policy pol = {SP_VERDICT_ALLOW, false, false};
	struct flow f = flow_to(25, 0);
	struct classify_result r = result(&f, SP_VERDICT_REJECT);
	struct verdict_out o;
	struct pkt rst, syn;

	(void)state;
	tcp(&rst, PACKET_TCP_RST | PACKET_TCP_ACK, 25);
	tcp(&syn, PACKET_TCP_SYN, 25);
	verdict_decide(&pol, &r, rst.b, rst.len, &o);
	assert_true(o.reset_passed);
	assert_int_equal(o.verdict, SP_VERDICT_ALLOW);
	assert_int_equal(o.decided, SP_VERDICT_REJECT);
	assert_int_equal(o.mark, 0);
	/* Captured as what it was decided: rejected. */
	assert_true(o.capture);
	verdict_decide(&pol, &r, syn.b, syn.len, &o);
	assert_false(o.reset_passed);
	assert_int_equal(o.verdict, SP_VERDICT_REJECT);
	/* A reset on a denied flow stays denied. */
	r = result(&f, SP_VERDICT_DENY);
	verdict_decide(&pol, &r, rst.b, rst.len, &o);
	assert_false(o.reset_passed);
	assert_int_equal(o.verdict, SP_VERDICT_DENY);
	/* Flow mode: the reset passes alone, the flow keeps its mark. */
	pol.flow_marks = true;
	r = result(&f, SP_VERDICT_REJECT);
	verdict_decide(&pol, &r, rst.b, rst.len, &o);
	assert_int_equal(o.verdict, SP_VERDICT_ALLOW);
	assert_int_equal(o.mark, STEER_MARK_ONCE);
}

/* Monitor mode: everything passes, what enforce would do is kept. */
static void
test_monitor_allows_and_remembers(void **state)
{
	struct verdict_policy pol = {SP_VERDICT_ALLOW, true, false};
	struct flow f = flow_to(443, 0);
	struct classify_result r = result(&f, SP_VERDICT_DENY);
	struct verdict_out o;
	struct pkt p;

	(void)state;
	tcp(&p, PACKET_TCP_SYN, 443);
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.verdict, SP_VERDICT_ALLOW);
	assert_int_equal(o.decided, SP_VERDICT_DENY);
	assert_false(o.capture);
	assert_true(f.flags & FLOW_F_MONITOR);
	/* In flow mode nothing is kept in the mark for a monitored deny. */
	pol.flow_marks = true;
	f.flags = 0;
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.verdict, SP_VERDICT_ALLOW);
	assert_int_equal(o.mark, 0);
}

/* Flow mode's marks: a deny is kept for the flow; DNS and a flow held
 * for its name pass a packet at a time; a plain allow uses the verdict's
 * own mark (the chain saves it). */
static void
test_flow_mode_marks(void **state)
{
	struct verdict_policy pol = {SP_VERDICT_ALLOW, false, true};
	struct flow web = flow_to(443, 0), dns = flow_to(53, FLOW_F_DNS),
	            dnsflag = flow_to(5353, FLOW_F_DNS),
	            held = flow_to(443, FLOW_F_NAME_WAIT);
	struct classify_result r;
	struct verdict_out o;
	struct pkt p;

	(void)state;
	tcp(&p, PACKET_TCP_SYN, 443);
	r = result(&web, SP_VERDICT_DENY);
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.mark, STEER_MARK_DENY);
	r = result(&web, SP_VERDICT_ALLOW);
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.mark, 0);
	assert_int_equal(o.verdict, SP_VERDICT_ALLOW);
	r = result(&dns, SP_VERDICT_ALLOW);
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.mark, STEER_MARK_ONCE);
	r = result(&dnsflag, SP_VERDICT_ALLOW);
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.mark, STEER_MARK_ONCE);
	r = result(&held, SP_VERDICT_ALLOW);
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.mark, STEER_MARK_ONCE);
	/* A reject is the kernel's REJECT through the verdict's own mark. */
	r = result(&web, SP_VERDICT_REJECT);
	verdict_decide(&pol, &r, p.b, p.len, &o);
	assert_int_equal(o.mark, 0);
	assert_int_equal(o.verdict, SP_VERDICT_REJECT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_enforce_passes_verdict_through),
	        cmocka_unit_test(test_no_flow_gets_default),
	        cmocka_unit_test(test_reset_of_rejected_flow_passes),
	        cmocka_unit_test(test_monitor_allows_and_remembers),
	        cmocka_unit_test(test_flow_mode_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
