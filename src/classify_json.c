/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A flow as JSON: the fields every view of a live or ended flow shares
 * (`conns`, the decision log, `replay --json`). */
#include <stdio.h>

#include "spackle/classify.h"

const char *
classify_attrib_name(enum classify_attrib a)
{
	switch (a) {
	case CLASSIFY_ATTRIB_SOCKET:
		return "socket";
	case CLASSIFY_ATTRIB_EXITED:
		return "exited";
	case CLASSIFY_ATTRIB_TIMEOUT:
		return "timeout";
	default:
		return "unknown";
	}
}

const char *
classify_name_src_name(enum classify_name_src s)
{
	switch (s) {
	case CLASSIFY_NAME_SNI:
		return "sni";
	case CLASSIFY_NAME_HTTP:
		return "http";
	default:
		return "dns";
	}
}

json_t *
classify_flow_json(const struct flow *f, const struct classify_flow_info *fi,
                   const struct ruleset *rs)
{
	const struct sp_addr *la, *ra;
	uint16_t lp, rp;
	char lb[64], rb[64], rule[SP_PATH_MAX + 16], pbuf[8];
	const char *proto = sp_proto_format(f->key.proto, pbuf, sizeof(pbuf));
	const char *host = fi->host, *exe = fi->exe;
	const struct rules_rule *r = NULL;
	int out = f->dir == SP_DIR_OUT ? 0 : 1;
	json_t *o;

	flow_local(f, &la, &lp);
	flow_remote(f, &ra, &rp);
	if (f->rule != FLOW_RULE_DEFAULT && f->rule != FLOW_RULE_NONE &&
	    rs != NULL)
		r = rules_get(rs, f->rule);
	if (r == NULL && (f->flags & FLOW_F_NAME_WAIT))
		snprintf(rule, sizeof(rule), "pending");
	else
		rules_format_where(rule, sizeof(rule), r);
	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "id", json_integer((json_int_t)f->id));
	json_object_set_new(o, "proto", json_string(proto));
	json_object_set_new(o, "src", json_string(sp_addr_format(la, lb, 64)));
	json_object_set_new(o, "sport", json_integer(lp));
	json_object_set_new(o, "dst", json_string(sp_addr_format(ra, rb, 64)));
	json_object_set_new(o, "dport", json_integer(rp));
	json_object_set_new(o, "dir", json_string(sp_dir_name(f->dir)));
	json_object_set_new(o, "pid",
	                    f->pid >= 0 ? json_integer(f->pid) : json_null());
	json_object_set_new(o, "exe", exe ? json_string(exe) : json_null());
	json_object_set_new(o, "uid",
	                    f->uid != FLOW_UID_UNKNOWN ? json_integer(f->uid)
	                                               : json_null());
	json_object_set_new(o, "ppid",
	                    fi->ppid >= 0 ? json_integer(fi->ppid)
	                                  : json_null());
	json_object_set_new(o, "cmdline",
	                    fi->cmdline ? json_string(fi->cmdline)
	                                : json_null());
	json_object_set_new(o, "procs",
	                    fi->nprocs > 0 ? json_integer(fi->nprocs)
	                                   : json_null());
	json_object_set_new(
	        o, "attrib",
	        fi->attrib != CLASSIFY_ATTRIB_NONE
	                ? json_string(classify_attrib_name(fi->attrib))
	                : json_null());
	json_object_set_new(o, "host", host ? json_string(host) : json_null());
	json_object_set_new(
	        o, "host_from",
	        fi->host_src != CLASSIFY_NAME_NONE
	                ? json_string(classify_name_src_name(fi->host_src))
	                : json_null());
	json_object_set_new(o, "name_raw",
	                    fi->name_raw ? json_string(fi->name_raw)
	                                 : json_null());
	json_object_set_new(o, "name_raw_from",
	                    fi->name_raw ? json_string(classify_name_src_name(
	                                           fi->name_raw_src))
	                                 : json_null());
	json_object_set_new(o, "name_wait",
	                    json_boolean(f->flags & FLOW_F_NAME_WAIT));
	json_object_set_new(o, "verdict",
	                    json_string(sp_verdict_name(f->verdict)));
	json_object_set_new(o, "rule", json_string(rule));
	json_object_set_new(o, "monitor",
	                    json_boolean(f->flags & FLOW_F_MONITOR));
	json_object_set_new(o, "packets_out",
	                    json_integer((json_int_t)f->packets[out]));
	json_object_set_new(o, "packets_in",
	                    json_integer((json_int_t)f->packets[!out]));
	json_object_set_new(o, "bytes_out",
	                    json_integer((json_int_t)f->bytes[out]));
	json_object_set_new(o, "bytes_in",
	                    json_integer((json_int_t)f->bytes[!out]));
	json_object_set_new(o, "first_ns",
	                    json_integer((json_int_t)f->first_ns));
	json_object_set_new(o, "last_ns", json_integer((json_int_t)f->last_ns));
	return o;
}
