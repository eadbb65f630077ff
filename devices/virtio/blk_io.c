/* Running one request step against the image: as a system call on the device thread (the sync
 * engine) or as an io_uring submission on the device thread's ring. Both take the same
 * struct blk_step and report the same result (bytes or -errno). */
#include "blk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

/* io-wq workers per ring: buffered I/O that misses the page cache, fsync and fallocate run on
 * them. Bounded work (file I/O) gets a few; unbounded work (sockets) never happens here. */
#define BLK_IOWQ_BOUNDED   4
#define BLK_IOWQ_UNBOUNDED 1

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

int blk_io_submit(struct event_loop *loop, struct ev_op *op, const struct blk_step *s)
{
	struct io_uring_sqe *sqe = get_sqe(loop);
	if (!sqe)
		return -1;
	switch (s->op) {
	case BLK_STEP_READ:
		io_uring_prep_readv(sqe, s->fd, s->iov, (unsigned)s->niov, s->offset);
		break;
	case BLK_STEP_WRITE:
	case BLK_STEP_WRITE_ZEROS:
		io_uring_prep_writev(sqe, s->fd, s->iov, (unsigned)s->niov, s->offset);
		break;
	case BLK_STEP_FLUSH:
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_STEP_PUNCH:
		io_uring_prep_fallocate(sqe, s->fd, PUNCH_MODE, (off_t)s->offset, (off_t)s->len);
		break;
	case BLK_STEP_ZERO_RANGE:
		io_uring_prep_fallocate(sqe, s->fd, ZERO_MODE, (off_t)s->offset, (off_t)s->len);
		break;
	}
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

void blk_io_limit_workers(struct event_loop *loop)
{
	unsigned limits[2] = { BLK_IOWQ_BOUNDED, BLK_IOWQ_UNBOUNDED };
	/* Linux 5.15+; older kernels keep their default (bounded by the CPU count). */
	(void)io_uring_register_iowq_max_workers(&loop->ring, limits);
}
