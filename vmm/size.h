/* Memory sizes as users write them: "512M", "2G", "1048576K", "64" (a bare number is MiB, as in
 * QEMU's -m). */
#ifndef EMBER_SIZE_H
#define EMBER_SIZE_H

#include <stdint.h>

#include "error.h"

int size_parse(const char *text, uint64_t *bytes, struct error *e);
/* "512M", "3G", "1536K": the largest exact unit. buf must hold 32 bytes. */
const char *size_format(uint64_t bytes, char buf[32]);

#endif
