/* Running one request step against the image: as a system call on the device thread (the sync
 * engine) or as an io_uring submission on the device thread's ring. Both take the same
 * struct blk_step and report the same result (bytes or -errno).
 *
 * The ring knows the image's descriptors as registered files (IOSQE_FIXED_FILE): a submission
 * then takes no reference on the file. Guest RAM is deliberately not registered as fixed
 * buffers: that pins every page of it for the VM's life (allocating all of a lazily backed
 * guest at start-up, and going stale when a balloon or a snapshot restore replaces pages),
 * to save a page-table walk per 4 KiB read, which did not show in the measurements
 * (docs/performance.md). */
#include "blk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <unistd.h>

/* io-wq workers per ring: buffered I/O that misses the page cache, fsync and fallocate run on
 * them. Bounded work (file I/O) gets a few; unbounded work (sockets) never happens here. */
#define BLK_IOWQ_BOUNDED   4
#define BLK_IOWQ_UNBOUNDED 1

/* Steps reach the kernel in groups of this many while a kick's requests are still being
 * popped, instead of all together after the last one: the first ones start on the device
 * sooner, and io_uring does not plug groups of two or fewer, so the block layer dispatches
 * each request at once instead of holding the batch until its end. On the development host
 * (whose disk is itself virtual) this raised 4 KiB QD32 random reads by 10-15%, for one more
 * io_uring_enter per two requests (docs/performance.md). */
#define BLK_IO_EARLY_SUBMIT 2

#define PUNCH_MODE (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define ZERO_MODE  (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)

static ssize_t result(ssize_t n)
{
	return n < 0 ? -errno : n;
}

ssize_t blk_io_sync(const struct blk_step *s)
{
	switch (s->op) {
	case BLK_STEP_READ:
		return result(preadv(s->fd, s->iov, s->niov, (off_t)s->offset));
	case BLK_STEP_WRITE:
	case BLK_STEP_WRITE_ZEROS:
		return result(pwritev(s->fd, s->iov, s->niov, (off_t)s->offset));
	case BLK_STEP_FLUSH:
		return result(fdatasync(s->fd));
	case BLK_STEP_PUNCH:
		return result(fallocate(s->fd, PUNCH_MODE, (off_t)s->offset, (off_t)s->len));
	case BLK_STEP_ZERO_RANGE:
		return result(fallocate(s->fd, ZERO_MODE, (off_t)s->offset, (off_t)s->len));
	}
	return -EINVAL;
}

/* A free submission slot; if the ring is momentarily full, flush it to the kernel first. */
static struct io_uring_sqe *get_sqe(struct event_loop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	if (!sqe) {
		io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	return sqe;
}

/* The registered index of fd, or -1. */
static int fixed_index(const struct blk_io_files *files, int fd)
{
	for (int i = 0; i < files->count; i++)
		if (files->fds[i] == fd)
			return i;
	return -1;
}

int blk_io_submit(struct event_loop *loop, const struct blk_io_files *files, struct ev_op *op,
		  const struct blk_step *s)
{
	struct io_uring_sqe *sqe = get_sqe(loop);
	if (!sqe)
		return -1;
	int index = fixed_index(files, s->fd);
	int fd = index >= 0 ? index : s->fd;
	switch (s->op) {
	case BLK_STEP_READ:
		io_uring_prep_readv(sqe, fd, s->iov, (unsigned)s->niov, s->offset);
		break;
	case BLK_STEP_WRITE:
	case BLK_STEP_WRITE_ZEROS:
		io_uring_prep_writev(sqe, fd, s->iov, (unsigned)s->niov, s->offset);
		break;
	case BLK_STEP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_STEP_PUNCH:
		io_uring_prep_fallocate(sqe, fd, PUNCH_MODE, (off_t)s->offset, (off_t)s->len);
		break;
	case BLK_STEP_ZERO_RANGE:
		io_uring_prep_fallocate(sqe, fd, ZERO_MODE, (off_t)s->offset, (off_t)s->len);
		break;
	}
	if (index >= 0)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, op);
	/* Into the kernel now, not after the whole batch: see BLK_IO_EARLY_SUBMIT. A failure
	 * (-EBUSY, -EAGAIN) leaves the entries queued for the loop's next submission. */
	if (io_uring_sq_ready(&loop->ring) >= BLK_IO_EARLY_SUBMIT)
		io_uring_submit(&loop->ring);
	return 0;
}

void blk_io_register_files(struct event_loop *loop, struct blk_io_files *files,
			   const struct blk_image *img)
{
	int fds[2] = { img->fd, img->buffered_fd };
	int n = img->buffered_fd != img->fd ? 2 : 1;
	files->count = 0;
	/* A failure (e.g. RLIMIT_NOFILE) only costs a file reference per request. */
	if (io_uring_register_files(&loop->ring, fds, (unsigned)n) == 0) {
		memcpy(files->fds, fds, sizeof(fds));
		files->count = n;
	}
}

void blk_io_unregister_files(struct event_loop *loop, struct blk_io_files *files)
{
	/* Synchronous, unlike the ring's own teardown after close: the image's flock must be
	 * gone when the device is, or an immediate restart would find the image "in use". */
	if (files->count)
		io_uring_unregister_files(&loop->ring);
	files->count = 0;
}

void blk_io_limit_workers(struct event_loop *loop)
{
	unsigned limits[2] = { BLK_IOWQ_BOUNDED, BLK_IOWQ_UNBOUNDED };
	/* Linux 5.15+; older kernels keep their default (bounded by the CPU count). */
	(void)io_uring_register_iowq_max_workers(&loop->ring, limits);
}
