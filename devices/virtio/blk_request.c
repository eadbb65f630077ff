/* One virtio-blk request (virtio v1.2, 5.2.6): the chain a guest offered, checked field by field,
 * then carried out as a sequence of host steps (a read may take several preadv calls, a
 * write-zeroes range falls back from punching a hole to zeroing a range to writing zeros). The
 * engines in blk_io.c run the steps; nothing here blocks.
 *
 * Layout of a request: a 16-byte header (type, reserved, sector) in the device-readable part;
 * then data (readable for writes and discard/write-zeroes ranges, writable for reads and
 * get-id); the last writable byte is the status. Everything read from the guest is copied out
 * once, so a guest that rewrites its buffers during the request cannot change what was
 * checked. */
#include "blk_internal.h"

#include <errno.h>
#include <string.h>

/* The write-zeroes fallback writes from here (never written: stays zero). */
static _Alignas(4096) uint8_t zero_buffer[BLK_ZERO_CHUNK];

static void finish(struct blk_request *r, uint8_t status)
{
	r->status = status;
	r->done = true;
}

/* Drops the first `bytes` bytes of an iovec array (in place). */
static void iov_advance(struct iovec **iov, int *niov, uint64_t bytes)
{
	while (*niov > 0 && bytes >= (*iov)->iov_len) {
		bytes -= (*iov)->iov_len;
		(*iov)++;
		(*niov)--;
	}
	if (*niov > 0 && bytes) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + bytes;
		(*iov)->iov_len -= bytes;
	}
}

/* Is [sector, sector + count) inside the disk? Written so nothing can overflow: the sector is
 * compared before anything is added to it. */
static bool range_ok(const struct blk_image *img, uint64_t sector, uint64_t count)
{
	return sector <= img->capacity && count <= img->capacity - sector;
}

static void parse_transfer(struct blk_request *r, const struct blk_request_env *env)
{
	struct virtq_chain *c = &r->chain;
	if (r->type == VIRTIO_BLK_T_IN) {
		/* Writable part minus the status byte (the last iovec loses its last byte). */
		r->data = &c->iov[c->nout];
		r->ndata = (int)c->nin;
		r->data[r->ndata - 1].iov_len--;
		if (!r->data[r->ndata - 1].iov_len)
			r->ndata--;
		r->data_len = c->in_bytes - 1u;
	} else {
		if (env->img->readonly) {
			finish(r, VIRTIO_BLK_S_IOERR);
			return;
		}
		r->data = &c->iov[0];
		r->ndata = (int)c->nout;
		iov_advance(&r->data, &r->ndata, sizeof(struct virtio_blk_outhdr));
		r->data_len = c->out_bytes - sizeof(struct virtio_blk_outhdr);
	}
	/* 5.2.6.1: data comes in whole 512-byte sectors. */
	if (r->data_len % VIRTIO_BLK_SECTOR_SIZE ||
	    !range_ok(env->img, r->sector, r->data_len / VIRTIO_BLK_SECTOR_SIZE))
		finish(r, VIRTIO_BLK_S_IOERR);
	else if (!r->data_len)
		finish(r, VIRTIO_BLK_S_OK);
}

static void parse_get_id(struct blk_request *r, const struct blk_request_env *env)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	memcpy(id, env->serial, strnlen(env->serial, VIRTIO_BLK_ID_BYTES));
	if (r->chain.in_bytes - 1u < VIRTIO_BLK_ID_BYTES) {
		finish(r, VIRTIO_BLK_S_IOERR); /* no room for the 20-byte answer */
		return;
	}
	r->id_bytes = (uint32_t)virtq_chain_copy_to(&r->chain, 0, id, sizeof(id));
	finish(r, VIRTIO_BLK_S_OK);
}

static void start_range(struct blk_request *r);

/* Discard and write-zeroes: an array of ranges after the header (5.2.6). */
static void parse_ranges(struct blk_request *r, const struct blk_request_env *env)
{
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;
	uint64_t feature = discard ? VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)
				   : VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	if (!(env->features & feature)) {
		finish(r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (env->img->readonly) {
		finish(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	uint32_t bytes = r->chain.out_bytes - (uint32_t)sizeof(struct virtio_blk_outhdr);
	uint32_t n = bytes / (uint32_t)sizeof(r->ranges[0]);
	if (!bytes || bytes % sizeof(r->ranges[0]) || n > BLK_MAX_DISCARD_SEG) {
		finish(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	virtq_chain_copy_from(&r->chain, sizeof(struct virtio_blk_outhdr), r->ranges, bytes);
	r->nranges = n;
	uint32_t allowed = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	for (uint32_t i = 0; i < n; i++) {
		const struct virtio_blk_discard_write_zeroes *d = &r->ranges[i];
		/* 5.2.6.2: unmap on a discard, or an unknown flag, is UNSUPP. */
		if (d->flags & ~allowed) {
			finish(r, VIRTIO_BLK_S_UNSUPP);
			return;
		}
		if (d->num_sectors > BLK_MAX_DISCARD_SECTORS || !range_ok(env->img, d->sector,
									   d->num_sectors)) {
			finish(r, VIRTIO_BLK_S_IOERR);
			return;
		}
	}
	start_range(r);
}

int blk_request_parse(struct blk_request *r, const struct blk_request_env *env, struct error *e)
{
	struct virtq_chain *c = &r->chain;
	r->status = VIRTIO_BLK_S_OK;
	r->done = false;
	r->data = NULL;
	r->ndata = 0;
	r->data_len = r->transferred = 0;
	r->id_bytes = 0;
	r->nranges = r->range = 0;
	r->range_done = 0;
	r->last_errno = 0;
	r->host_error = false;
	r->retries = 0;
	/* Without a writable byte there is nowhere to say anything: a protocol violation. Zero-
	 * length descriptors carry no iovec, so in_bytes >= 1 means a last iovec exists. */
	if (c->in_bytes < 1)
		return error_set(e, "request at head %u has no writable status byte", c->head);
	const struct iovec *last = &c->iov[c->nout + c->nin - 1];
	r->status_ptr = (uint8_t *)last->iov_base + last->iov_len - 1;
	struct virtio_blk_outhdr h;
	if (virtq_chain_copy_from(c, 0, &h, sizeof(h)) < sizeof(h)) {
		r->type = UINT32_MAX;
		finish(r, VIRTIO_BLK_S_IOERR); /* the header is short */
		return 0;
	}
	r->type = h.type;
	r->sector = h.sector;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		parse_transfer(r, env);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (env->img->readonly)
			finish(r, VIRTIO_BLK_S_OK); /* nothing can be dirty */
		break;
	case VIRTIO_BLK_T_GET_ID:
		parse_get_id(r, env);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		parse_ranges(r, env);
		break;
	default:
		finish(r, VIRTIO_BLK_S_UNSUPP);
		break;
	}
	return 0;
}

/* The current range's first zeroing method: a hole only if the driver allowed unmapping. */
static void start_range(struct blk_request *r)
{
	r->range_done = 0;
	r->zero_method = r->type == VIRTIO_BLK_T_DISCARD ||
					 (r->ranges[r->range].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
				 ? BLK_ZERO_PUNCH
				 : BLK_ZERO_RANGE;
}

static bool next_range_step(struct blk_request *r, const struct blk_image *img,
			    struct blk_step *s)
{
	while (r->range < r->nranges && r->ranges[r->range].num_sectors == 0) {
		r->range++;
		if (r->range < r->nranges)
			start_range(r);
	}
	if (r->range >= r->nranges) {
		finish(r, VIRTIO_BLK_S_OK);
		return false;
	}
	const struct virtio_blk_discard_write_zeroes *d = &r->ranges[r->range];
	uint64_t bytes = (uint64_t)d->num_sectors * VIRTIO_BLK_SECTOR_SIZE;
	s->offset = d->sector * VIRTIO_BLK_SECTOR_SIZE + r->range_done;
	s->len = bytes - r->range_done;
	s->iov = NULL;
	s->niov = 0;
	s->fd = img->buffered_fd;
	switch (r->zero_method) {
	case BLK_ZERO_PUNCH:
		s->op = BLK_STEP_PUNCH;
		break;
	case BLK_ZERO_RANGE:
		s->op = BLK_STEP_ZERO_RANGE;
		break;
	default:
		s->op = BLK_STEP_WRITE_ZEROS;
		if (s->len > BLK_ZERO_CHUNK)
			s->len = BLK_ZERO_CHUNK;
		r->zero_iov = (struct iovec){ zero_buffer, s->len };
		s->iov = &r->zero_iov;
		s->niov = 1;
		s->fd = blk_image_fd_for(img, s->offset, s->iov, 1);
		break;
	}
	return true;
}

bool blk_request_next_step(struct blk_request *r, const struct blk_image *img,
			   struct blk_step *s)
{
	if (r->done)
		return false;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		s->op = r->type == VIRTIO_BLK_T_IN ? BLK_STEP_READ : BLK_STEP_WRITE;
		s->offset = r->sector * VIRTIO_BLK_SECTOR_SIZE + r->transferred;
		s->len = r->data_len;
		s->iov = r->data;
		s->niov = r->ndata;
		s->fd = blk_image_fd_for(img, s->offset, s->iov, s->niov);
		return true;
	case VIRTIO_BLK_T_FLUSH:
		*s = (struct blk_step){ .op = BLK_STEP_FLUSH, .fd = img->fd };
		return true;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return next_range_step(r, img, s);
	default:
		finish(r, VIRTIO_BLK_S_UNSUPP);
		return false;
	}
}

static void host_failure(struct blk_request *r, const struct blk_step *s, int err)
{
	r->last_errno = err;
	r->failed_op = s->op;
	r->failed_offset = s->offset;
	r->host_error = true;
	finish(r, VIRTIO_BLK_S_IOERR);
}

static void range_done(struct blk_request *r)
{
	r->range++;
	if (r->range < r->nranges)
		start_range(r);
}

/* A fallocate mode the file system lacks: discard is only a hint; zeroing tries the next way. */
static void zeroing_unsupported(struct blk_request *r, const struct blk_step *s)
{
	if (r->type == VIRTIO_BLK_T_DISCARD)
		range_done(r);
	else
		r->zero_method = s->op == BLK_STEP_PUNCH ? BLK_ZERO_RANGE : BLK_ZERO_WRITE;
}

void blk_request_step_done(struct blk_request *r, const struct blk_step *s, ssize_t res)
{
	bool fallocate = s->op == BLK_STEP_PUNCH || s->op == BLK_STEP_ZERO_RANGE;
	if ((res == -EINTR || res == -EAGAIN) && ++r->retries < BLK_STEP_RETRIES)
		return; /* the same step again */
	if (fallocate && (res == -EOPNOTSUPP || res == -EINVAL || res == -ENOSYS)) {
		zeroing_unsupported(r, s);
		return;
	}
	if (res < 0) {
		host_failure(r, s, (int)-res);
		return;
	}
	switch (s->op) {
	case BLK_STEP_READ:
	case BLK_STEP_WRITE:
		if (res == 0 || (uint64_t)res > r->data_len) {
			host_failure(r, s, 0); /* end of file: the image shrank under us */
			return;
		}
		r->transferred += (uint64_t)res;
		r->data_len -= (uint64_t)res;
		iov_advance(&r->data, &r->ndata, (uint64_t)res);
		if (!r->data_len)
			finish(r, VIRTIO_BLK_S_OK);
		return;
	case BLK_STEP_FLUSH:
		finish(r, VIRTIO_BLK_S_OK);
		return;
	case BLK_STEP_PUNCH:
	case BLK_STEP_ZERO_RANGE:
		range_done(r);
		return;
	case BLK_STEP_WRITE_ZEROS:
		if (res == 0 || (uint64_t)res > s->len) {
			host_failure(r, s, 0);
			return;
		}
		r->range_done += (uint64_t)res;
		if (r->range_done == (uint64_t)r->ranges[r->range].num_sectors * VIRTIO_BLK_SECTOR_SIZE)
			range_done(r);
		return;
	}
}

uint32_t blk_request_complete(struct blk_request *r)
{
	*r->status_ptr = r->status;
	uint32_t written = 1;
	if (r->type == VIRTIO_BLK_T_IN)
		written += (uint32_t)r->transferred;
	else if (r->type == VIRTIO_BLK_T_GET_ID)
		written += r->id_bytes;
	return written;
}
