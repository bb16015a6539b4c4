/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Internet checksum (RFC 1071), for the test tools that write raw
 * packets (nettool, abuse). */
#ifndef SPACKLE_INETSUM_H
#define SPACKLE_INETSUM_H

#include <stddef.h>
#include <stdint.h>

/* sum plus p's 16-bit big-endian words (an odd last byte padded with 0);
 * a buffer other than the last must be of even length. */
static inline uint32_t
inetsum_add(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

/* The checksum of what sum added up: folded, complemented. */
static inline uint16_t
inetsum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif
