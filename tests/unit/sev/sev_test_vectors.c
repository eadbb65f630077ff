#include "sev_test_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sev_codec.h"
#include "sev_file.h"

const char *sev_vectors_dir(void)
{
	static char dir[4096];
	const char *shared = getenv("EMBER_SHARED_DIR");
	snprintf(dir, sizeof(dir), "%s/sev-vectors", shared && *shared ? shared : "../shared");
	return dir;
}

bool sev_vectors_present(void)
{
	struct stat st;
	char readme[4200];
	snprintf(readme, sizeof(readme), "%s/README.md", sev_vectors_dir());
	return stat(readme, &st) == 0 && S_ISREG(st.st_mode);
}

const char *sev_vector_path(const char *rel)
{
	static char path[8192];
	snprintf(path, sizeof(path), "%s/%s", sev_vectors_dir(), rel);
	return path;
}

uint8_t *sev_vector_read(const char *rel, size_t *len)
{
	uint8_t *data = NULL;
	struct error e = { "" };
	if (sev_read_file(sev_vector_path(rel), 64u << 20, &data, len, &e) < 0)
		cr_assert_fail("cannot read vector %s: %s", rel, e.msg);
	return data;
}

void sev_test_unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t n = 0;
	struct error e = { "" };
	cr_assert_eq(sev_hex_decode(hex, strlen(hex), out, len, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, len);
}
