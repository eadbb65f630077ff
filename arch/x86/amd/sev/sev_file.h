/* Whole-file reads with a size limit, for firmware images, kernels, certificates and reports. */
#ifndef EMBER_SEV_FILE_H
#define EMBER_SEV_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"

/* Reads all of path into a malloc'd buffer (*data, freed by the caller; never NULL on success,
 * even for an empty file). Files larger than max bytes are refused. */
int sev_read_file(const char *path, size_t max, uint8_t **data, size_t *len, struct error *e);

#endif
