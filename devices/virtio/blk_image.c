/* The host side of a disk: a raw image, a regular file or a block device. Opening checks
 * everything the user can get wrong (missing file, no permission, not a file, empty, in use by
 * another VM, O_DIRECT unsupported) and says which. */
#include "blk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* O_DIRECT alignments tried, smallest first. */
static const uint32_t dio_candidates[] = { 512, 1024, 2048, 4096 };
#define DIO_PROBE_MAX 4096u

static int open_error(const struct virtio_blk_options *o, struct error *e)
{
	int err = errno;
	if (err == EACCES || err == EPERM || err == EROFS)
		return error_set(e, "--disk %s: cannot open it %s: %s%s", o->path,
				 o->readonly ? "for reading" : "for writing", strerror(err),
				 o->readonly ? "" : " (readonly=on opens it read-only)");
	if (err == EINVAL && o->direct)
		return error_set(e, "--disk %s: direct=on: its file system does not support O_DIRECT",
				 o->path);
	return error_set(e, "--disk %s: cannot open it: %s", o->path, strerror(err));
}

static int image_size(struct blk_image *img, const struct virtio_blk_options *o,
		      struct error *e)
{
	struct stat st;
	if (fstat(img->fd, &st) < 0)
		return error_errno(e, "--disk %s: fstat", o->path);
	if (S_ISREG(st.st_mode)) {
		img->size = (uint64_t)st.st_size;
		img->physical_block = st.st_blksize >= 512 && st.st_blksize <= 65536 &&
					      !(st.st_blksize & (st.st_blksize - 1))
					      ? (uint32_t)st.st_blksize
					      : 4096;
	} else if (S_ISBLK(st.st_mode)) {
		img->block_device = true;
		unsigned pbs = 0;
		if (ioctl(img->fd, BLKGETSIZE64, &img->size) < 0)
			return error_errno(e, "--disk %s: BLKGETSIZE64", o->path);
		img->physical_block = ioctl(img->fd, BLKPBSZGET, &pbs) == 0 && pbs >= 512 ? pbs : 4096;
	} else {
		return error_set(e, "--disk %s: not a regular file or a block device", o->path);
	}
	img->capacity = img->size / VIRTIO_BLK_SECTOR_SIZE;
	if (img->capacity == 0)
		return error_set(e, "--disk %s: the image is smaller than one sector (512 bytes)",
				 o->path);
	return 0;
}

/* Finds the smallest alignment O_DIRECT accepts for offsets, lengths and buffers by trying
 * reads (statx's DIOALIGN needs Linux 6.1 and a recent libc). */
static int probe_dio_align(struct blk_image *img, const struct virtio_blk_options *o,
			   struct error *e)
{
	if (img->block_device) {
		int lbs = 0;
		if (ioctl(img->fd, BLKSSZGET, &lbs) == 0 && lbs >= 512 && lbs <= 4096) {
			img->dio_align = (uint32_t)lbs;
			return 0;
		}
	}
	uint8_t *buf = aligned_alloc(DIO_PROBE_MAX, 2 * DIO_PROBE_MAX);
	if (!buf)
		return error_set(e, "--disk %s: out of memory", o->path);
	int err = 0;
	img->dio_align = 0;
	for (size_t i = 0; i < sizeof(dio_candidates) / sizeof(dio_candidates[0]); i++) {
		uint32_t a = dio_candidates[i];
		/* Offset a and buffer buf + a are aligned to a but (below 4096) not to 2a. */
		off_t at = img->size >= 2ull * a ? (off_t)a : 0;
		ssize_t n = pread(img->fd, buf + (a < DIO_PROBE_MAX ? a : 0), a, at);
		if (n >= 0) {
			img->dio_align = a;
			break;
		}
		err = errno;
	}
	free(buf);
	if (!img->dio_align)
		return error_set(e, "--disk %s: direct=on: O_DIRECT reads fail: %s", o->path,
				 strerror(err));
	return 0;
}

static int lock_image(struct blk_image *img, const struct virtio_blk_options *o,
		      struct error *e)
{
	/* Two VMs writing one image corrupt it; readers may share. */
	if (flock(img->fd, (img->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		return error_set(e, "--disk %s: the image is in use (locked by another process)%s",
				 o->path, img->readonly ? "" : "; readonly=on can share it with readers");
	return error_errno(e, "--disk %s: flock", o->path);
}

int blk_image_open(struct blk_image *img, const struct virtio_blk_options *o, struct error *e)
{
	memset(img, 0, sizeof(*img));
	img->fd = img->buffered_fd = -1;
	img->readonly = o->readonly;
	img->direct = o->direct;
	int flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	img->fd = open(o->path, flags | (o->direct ? O_DIRECT : 0));
	if (img->fd < 0)
		return open_error(o, e);
	if (lock_image(img, o, e) < 0 || image_size(img, o, e) < 0)
		goto fail;
	img->logical_block = VIRTIO_BLK_SECTOR_SIZE;
	img->buffered_fd = img->fd;
	if (o->direct) {
		if (probe_dio_align(img, o, e) < 0)
			goto fail;
		/* The guest then sends only what O_DIRECT takes (Linux honours blk_size). */
		img->logical_block = img->dio_align;
		img->buffered_fd = open(o->path, flags);
		if (img->buffered_fd < 0) {
			open_error(o, e);
			goto fail;
		}
	}
	if (img->physical_block < img->logical_block)
		img->physical_block = img->logical_block;
	return 0;
fail:
	blk_image_close(img);
	return -1;
}

void blk_image_close(struct blk_image *img)
{
	if (img->buffered_fd >= 0 && img->buffered_fd != img->fd)
		close(img->buffered_fd);
	if (img->fd >= 0)
		close(img->fd);
	img->fd = img->buffered_fd = -1;
}

int blk_image_fd_for(const struct blk_image *img, uint64_t offset, const struct iovec *iov,
		     int niov)
{
	if (!img->direct)
		return img->fd;
	uint64_t mask = img->dio_align - 1;
	if (offset & mask)
		return img->buffered_fd;
	for (int i = 0; i < niov; i++)
		if (((uintptr_t)iov[i].iov_base & mask) || (iov[i].iov_len & mask))
			return img->buffered_fd;
	return img->fd;
}
