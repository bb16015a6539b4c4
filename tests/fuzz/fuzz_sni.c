/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the TLS SNI and HTTP Host parsers. */
#include <stdlib.h>
#include <string.h>

#include "spackle/sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What sni.h promises of a view, and of a normalized name. */
static void
check(enum sni_status s, enum sni_kind kind, const struct sp_view *v,
      const uint8_t *buf, size_t size)
{
	char out[SP_NAME_MAX + 1];
	size_t i, len;

	if (s != SNI_OK)
		return;
	if (v->p == NULL || v->len == 0 || v->p < buf ||
	    v->p + v->len > buf + size)
		abort();
	if (!sni_name_normalize(kind, v, out))
		return;
	len = strlen(out);
	if (len == 0 || len > SP_NAME_MAX || out[len - 1] == '.')
		abort();
	for (i = 0; i < len; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_view v;
	enum sni_kind kind = SNI_KIND_TLS;
	enum sni_status s;
	uint8_t *buf;

	/* Exactly sized, so ASan sees a read one byte past the end. */
	if ((buf = malloc(size)) == NULL && size > 0)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	s = sni_parse_tls(buf, size, &v);
	check(s, SNI_KIND_TLS, &v, buf, size);
	s = sni_parse_http(buf, size, &v);
	check(s, SNI_KIND_HTTP, &v, buf, size);
	s = sni_parse(buf, size, &kind, &v);
	check(s, kind, &v, buf, size);
	free(buf);
	return 0;
}
