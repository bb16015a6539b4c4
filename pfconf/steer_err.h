/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The steering files' one way to word an error (pfconf/steer_names.c). */
#ifndef SPACKLE_PFCONF_STEER_ERR_H
#define SPACKLE_PFCONF_STEER_ERR_H

#include <stddef.h>

/* printf into err (errlen bytes); nothing when err is NULL. */
void steer_seterr(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
