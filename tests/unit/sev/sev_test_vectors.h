/* Finding the shared SEV known-answer data (../shared/sev-vectors, see its README.md) from the
 * unit tests. Tests that need it skip cleanly when it is absent. */
#ifndef EMBER_SEV_TEST_VECTORS_H
#define EMBER_SEV_TEST_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>

/* The sev-vectors directory: $EMBER_SHARED_DIR/sev-vectors (meson sets EMBER_SHARED_DIR). */
const char *sev_vectors_dir(void);
bool sev_vectors_present(void);

/* Reads sev-vectors/<rel> into a malloc'd buffer; fails the test when unreadable. */
uint8_t *sev_vector_read(const char *rel, size_t *len);

/* A path under sev-vectors (static buffer: use before the next call). */
const char *sev_vector_path(const char *rel);

/* Decodes a hex string of known length (test expectations). */
void sev_test_unhex(const char *hex, uint8_t *out, size_t len);

#define SEV_REQUIRE_VECTORS()                                                                   \
	do {                                                                                    \
		if (!sev_vectors_present())                                                     \
			cr_skip_test("SEV vectors not found at %s (set EMBER_SHARED_DIR)",      \
				     sev_vectors_dir());                                        \
	} while (0)

#endif
