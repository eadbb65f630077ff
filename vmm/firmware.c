/* The firmware image and the files a firmware boot serves: see firmware.h. */
#include "firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../arch/x86/layout.h"

#define PAGE_SIZE 4096ULL

_Static_assert(LAYOUT_4G - FIRMWARE_MAX_SIZE >= LAYOUT_FW_KVM_PAGES + LAYOUT_FW_KVM_PAGES_SIZE,
	       "the largest image would overlap the KVM pages below it");

/* Reads exactly size bytes of fd into dst. */
static int read_exact(int fd, uint8_t *dst, size_t size, const char *what, const char *path,
		      struct error *e)
{
	size_t done = 0;
	while (done < size) {
		ssize_t n = read(fd, dst + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(e, "cannot read %s '%s'", what, path);
		if (n == 0)
			return error_set(e, "%s '%s' shrank while being read", what, path);
		done += (size_t)n;
	}
	return 0;
}

/* Opens a non-empty regular file and returns its size. */
static int open_regular(const char *what, const char *path, int *fd_out, size_t *size_out,
			struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(e, "cannot open %s '%s'", what, path);
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = error_errno(e, "cannot stat %s '%s'", what, path);
	else if (!S_ISREG(st.st_mode))
		rc = error_set(e, "%s '%s' is not a regular file", what, path);
	else if (st.st_size == 0)
		rc = error_set(e, "%s '%s' is empty", what, path);
	if (rc < 0) {
		close(fd);
		return -1;
	}
	*fd_out = fd;
	*size_out = (size_t)st.st_size;
	return 0;
}

int firmware_load(struct firmware *fw, const char *path, struct error *e)
{
	memset(fw, 0, sizeof(*fw));
	int fd;
	size_t size;
	if (open_regular("firmware", path, &fd, &size, e) < 0)
		return -1;
	int rc = 0;
	if (size % PAGE_SIZE)
		rc = error_set(e, "firmware '%s' is %zu bytes, not a whole number of 4 KiB pages",
			       path, size);
	else if (size < FIRMWARE_MIN_SIZE || size > FIRMWARE_MAX_SIZE)
		rc = error_set(e, "firmware '%s' is %zu KiB; Ember maps images of 64 KiB to 16 MiB",
			       path, size >> 10);
	if (rc == 0) {
		void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 -1, 0);
		if (map == MAP_FAILED)
			rc = error_errno(e, "cannot map %zu KiB for firmware '%s'", size >> 10, path);
		else
			fw->image = map, fw->size = size;
	}
	if (rc == 0)
		rc = read_exact(fd, fw->image, size, "firmware", path, e);
	close(fd);
	if (rc < 0) {
		firmware_release(fw);
		return -1;
	}
	fw->gpa = LAYOUT_4G - size;
	return 0;
}

int firmware_map(const struct firmware *fw, int vm_fd, struct error *e)
{
	struct kvm_userspace_memory_region region = {
		.slot = FIRMWARE_MEMSLOT,
		.flags = KVM_MEM_READONLY,
		.guest_phys_addr = fw->gpa,
		.memory_size = fw->size,
		.userspace_addr = (uint64_t)(uintptr_t)fw->image,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return error_errno(e, "firmware: cannot map the image read-only at 0x%llx "
				   "(KVM_SET_USER_MEMORY_REGION%s)", (unsigned long long)fw->gpa,
				   errno == EINVAL ? "; does this KVM lack KVM_CAP_READONLY_MEM?" : "");
	return 0;
}

void firmware_release(struct firmware *fw)
{
	if (fw->image)
		munmap(fw->image, fw->size);
	memset(fw, 0, sizeof(*fw));
}

int firmware_read_file(const char *what, const char *path, struct firmware_blob *out,
		       struct error *e)
{
	memset(out, 0, sizeof(*out));
	int fd;
	size_t size;
	if (open_regular(what, path, &fd, &size, e) < 0)
		return -1;
	if (size > UINT32_MAX) {
		close(fd);
		return error_set(e, "%s '%s' is larger than fw_cfg's 4 GiB item limit", what, path);
	}
	uint8_t *data = malloc(size);
	int rc = data ? read_exact(fd, data, size, what, path, e)
		      : error_set(e, "out of memory for %s '%s' (%zu MiB)", what, path, size >> 20);
	close(fd);
	if (rc < 0) {
		free(data);
		return -1;
	}
	out->data = data;
	out->size = size;
	return 0;
}

void firmware_blob_free(struct firmware_blob *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
