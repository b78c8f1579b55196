/* SPDX-License-Identifier: MIT */
/* api_version.c: demi_version(), the running library's version. */
#include "core/common.h"

#include <demi/version.h>

DEMI_EXPORT const char *demi_version(void)
{
    return DEMI_VERSION_STRING;
}
