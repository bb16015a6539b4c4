/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness of the configuration parser: whatever the text, an
 * error names its place (NAME:LINE: message) and leaves the config as it
 * was; a config that parses prints as text that parses to the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/config.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.conf"

/* Every line of the messages starts with NAME:LINE: (a line number). */
static void
check_messages(const char *msg)
{
	const char *p = msg;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');

		CHECK(strncmp(p, NAME ":", strlen(NAME ":")) == 0);
		p += strlen(NAME ":");
		CHECK(*p >= '1' && *p <= '9');
		while (*p >= '0' && *p <= '9')
			p++;
		CHECK(*p == ':');
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* The config printed, in a buffer of its own (free it). */
static char *
printed(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	config_print(f, c);
	CHECK(fclose(f) == 0);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c, before, again;
	char *text, *msg = NULL, *p1, *p2;
	size_t msglen = 0;
	FILE *err;
	int rc;

	if (size > 65536)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* config_load refuses a NUL: text ends at one */
	config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	err = open_memstream(&msg, &msglen);
	CHECK(err != NULL);
	rc = config_parse(&c, NAME, text, err);
	CHECK(fclose(err) == 0);
	if (rc != 0) {
		CHECK(msglen > 0);
		check_messages(msg);
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	} else {
		/* What it prints is a config that parses to the same. */
		p1 = printed(&c);
		config_defaults(&again);
		err = fopen("/dev/null", "w");
		CHECK(err != NULL);
		CHECK(config_parse(&again, NAME, p1, err) == 0);
		fclose(err);
		p2 = printed(&again);
		CHECK(strcmp(p1, p2) == 0);
		free(p1);
		free(p2);
	}
	free(msg);
	free(text);
	return 0;
}
