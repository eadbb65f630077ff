#include "sev_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_all(int fd, uint8_t *buf, size_t len, const char *path, struct error *e)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(e, "%s: read", path);
		if (n == 0)
			return error_set(e, "%s: file shrank while being read", path);
		done += (size_t)n;
	}
	return 0;
}

int sev_read_file(const char *path, size_t max, uint8_t **data, size_t *len, struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(e, "%s", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return error_errno(e, "%s: stat", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(e, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return error_set(e, "%s: %lld bytes is larger than the %zu-byte limit", path,
				 (long long)st.st_size, max);
	}
	size_t size = (size_t)st.st_size;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		return error_set(e, "%s: out of memory for %zu bytes", path, size);
	}
	if (read_all(fd, buf, size, path, e) < 0) {
		free(buf);
		close(fd);
		return -1;
	}
	close(fd);
	*data = buf;
	*len = size;
	return 0;
}
