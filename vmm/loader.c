/* Kernel loading, the format-independent part: reading the kernel file, telling a bzImage from an
 * ELF, and placing the command line and the initrd, which both formats share. */
#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../arch/x86/layout.h"

#define PAGE_SIZE 4096ULL
#define MIB (1ULL << 20)

/* Offset and value of the "HdrS" signature of the Linux setup header. */
#define BZIMAGE_MAGIC_OFFSET 0x202
#define BZIMAGE_MAGIC "HdrS"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Sizes in messages: whole MiB, rounded up so that a small file never reads as "0 MiB". */
static unsigned long long mib_up(uint64_t bytes)
{
	return (unsigned long long)(bytes / MIB + (bytes % MIB != 0));
}

/* Opens path read-only and checks that it is a non-empty regular file. `what` names its role
 * ("kernel", "initrd") in messages. */
static int open_input(const char *what, const char *path, int *fd_out, uint64_t *size_out,
		      struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(e, "cannot open %s '%s'", what, path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		error_errno(e, "cannot stat %s '%s'", what, path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(e, "%s '%s' is not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return error_set(e, "%s '%s' is empty", what, path);
	}
	*fd_out = fd;
	*size_out = (uint64_t)st.st_size;
	return 0;
}

static bool is_bzimage(const uint8_t *img, uint64_t size)
{
	return size >= BZIMAGE_MAGIC_OFFSET + 4 &&
	       memcmp(img + BZIMAGE_MAGIC_OFFSET, BZIMAGE_MAGIC, 4) == 0;
}

static bool is_elf(const uint8_t *img, uint64_t size)
{
	return size >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

int loader_load(struct guest_mem *gm, const struct boot_spec *spec, struct boot_info *out,
		struct error *e)
{
	int fd;
	uint64_t size;
	if (open_input("kernel", spec->kernel_path, &fd, &size, e) < 0)
		return -1;
	if (size > gm->size) {
		close(fd);
		return error_set(e, "kernel '%s' (%llu MiB) is larger than guest memory (%llu MiB)",
				 spec->kernel_path, mib_up(size), mib_up(gm->size));
	}
	/* Mapped rather than read: the image is copied once, straight from the page cache into
	 * guest RAM. */
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return error_errno(e, "cannot map kernel '%s'", spec->kernel_path);

	const uint8_t *img = map;
	int ret;
	if (is_bzimage(img, size))
		ret = loader_load_bzimage(gm, img, size, spec, out, e);
	else if (is_elf(img, size))
		ret = loader_load_pvh_elf(gm, img, size, spec, out, e);
	else
		ret = error_set(e, "kernel '%s' is neither a Linux bzImage nor an ELF image",
				spec->kernel_path);
	munmap(map, size);
	return ret;
}

/* Chooses where an initrd of `size` bytes goes: page-aligned, as high as possible, ending at or
 * below addr_max, low RAM's end and the 32-bit hole, and starting above both the kernel and the
 * first MiB (Ember's boot structures and the ACPI tables). `name` may be NULL. */
static int initrd_slot(const struct guest_mem *gm, const char *name, uint64_t size,
		       uint64_t addr_max, uint64_t kernel_end, uint64_t *gpa, struct error *e)
{
	uint64_t limit = min_u64(min_u64(addr_max, guest_mem_low_end(gm)), LAYOUT_MMIO32_START);
	uint64_t floor = kernel_end > LAYOUT_HIGH_MEMORY ? kernel_end : LAYOUT_HIGH_MEMORY;
	bool fits = floor <= LAYOUT_MMIO32_START && size <= limit;
	if (fits) {
		floor = (floor + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		*gpa = (limit - size) & ~(PAGE_SIZE - 1);
		fits = *gpa >= floor;
	}
	if (!fits)
		return error_set(e, "initrd%s%s%s (%llu MiB) does not fit in guest memory below 0x%llx "
				 "(above the kernel, which ends at 0x%llx)",
				 name ? " '" : "", name ? name : "", name ? "'" : "", mib_up(size),
				 (unsigned long long)limit, (unsigned long long)kernel_end);
	return 0;
}

int loader_place_initrd(struct guest_mem *gm, const uint8_t *data, uint64_t size, uint64_t addr_max,
			uint64_t kernel_end, struct boot_info *out, struct error *e)
{
	if (size == 0)
		return error_set(e, "initrd is empty");
	uint64_t gpa;
	if (initrd_slot(gm, NULL, size, addr_max, kernel_end, &gpa, e) < 0)
		return -1;
	if (guest_mem_write(gm, gpa, data, size, e) < 0)
		return -1;
	out->initrd_gpa = gpa;
	out->initrd_size = size;
	return 0;
}

/* Reads exactly `size` bytes of fd into dst. */
static int read_all(int fd, uint8_t *dst, uint64_t size, const char *path, struct error *e)
{
	uint64_t done = 0;
	while (done < size) {
		size_t chunk = (size_t)min_u64(size - done, 1ULL << 30);
		ssize_t n = read(fd, dst + done, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(e, "cannot read initrd '%s'", path);
		if (n == 0)
			return error_set(e, "initrd '%s' shrank while being read", path);
		done += (uint64_t)n;
	}
	return 0;
}

/* Reads the initrd file straight into its slot in guest RAM (no intermediate copy). */
static int load_initrd_file(struct guest_mem *gm, const char *path, uint64_t addr_max,
			    uint64_t kernel_end, struct boot_info *out, struct error *e)
{
	int fd;
	uint64_t size, gpa;
	if (open_input("initrd", path, &fd, &size, e) < 0)
		return -1;
	int ret = initrd_slot(gm, path, size, addr_max, kernel_end, &gpa, e);
	if (ret == 0) {
		uint8_t *dst = guest_mem_ptr(gm, gpa, size);
		ret = dst ? read_all(fd, dst, size, path, e)
			  : error_set(e, "initrd '%s': slot 0x%llx is outside guest RAM", path,
				      (unsigned long long)gpa);
	}
	close(fd);
	if (ret == 0) {
		out->initrd_gpa = gpa;
		out->initrd_size = size;
	}
	return ret;
}

static int write_cmdline(struct guest_mem *gm, const struct boot_spec *spec, uint64_t max_len,
			 struct error *e)
{
	uint64_t len = strlen(spec->cmdline);
	max_len = min_u64(max_len, LAYOUT_CMDLINE_MAX - 1);
	if (len > max_len)
		return error_set(e, "command line (%llu bytes) is too long for kernel '%s' "
				 "(at most %llu bytes)", (unsigned long long)len,
				 spec->kernel_path ? spec->kernel_path : "<memory>",
				 (unsigned long long)max_len);
	if (guest_mem_write(gm, LAYOUT_CMDLINE, spec->cmdline, len + 1, e) < 0)
		return error_prefix(e, "command line");
	return 0;
}

/* Shared by both formats (declared in loader_bzimage.c and loader_pvh.c): writes the command
 * line to LAYOUT_CMDLINE (at most cmdline_max bytes before the NUL) and loads spec->initrd_path,
 * if any, ending at or below initrd_addr_max and above kernel_end. */
int loader_place_cmdline_and_initrd(struct guest_mem *gm, const struct boot_spec *spec,
				    uint64_t cmdline_max, uint64_t initrd_addr_max,
				    uint64_t kernel_end, struct boot_info *out, struct error *e)
{
	if (write_cmdline(gm, spec, cmdline_max, e) < 0)
		return -1;
	out->initrd_gpa = 0;
	out->initrd_size = 0;
	if (!spec->initrd_path)
		return 0;
	return load_initrd_file(gm, spec->initrd_path, initrd_addr_max, kernel_end, out, e);
}
