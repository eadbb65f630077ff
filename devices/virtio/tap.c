/* TAP interfaces for virtio-net (see tap.h). */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

_Static_assert(TAP_OFFLOAD_CSUM == TUN_F_CSUM && TAP_OFFLOAD_TSO4 == TUN_F_TSO4 &&
		       TAP_OFFLOAD_TSO6 == TUN_F_TSO6 && TAP_OFFLOAD_TSO_ECN == TUN_F_TSO_ECN &&
		       TAP_OFFLOAD_UFO == TUN_F_UFO,
	       "TAP offload flags match <linux/if_tun.h>");

static int explain_setiff(const char *name, int err, struct error *e)
{
	switch (err) {
	case EPERM:
		return error_set(e, "TAP '%s': not allowed to attach (it belongs to another user, "
				    "or creating it needs CAP_NET_ADMIN)", name);
	case EBUSY:
		return error_set(e, "TAP '%s' is already attached to another process (or is "
				    "multi-queue)", name);
	case EINVAL:
		return error_set(e, "'%s' exists but is not a TAP interface Ember can attach "
				    "(a TUN device, or one created with other flags?)", name);
	default:
		return error_set(e, "TAP '%s': TUNSETIFF: %s", name, strerror(err));
	}
}

int tap_open(struct tap *t, const char *name, struct error *e)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (strlen(name) >= sizeof(t->name))
		return error_set(e, "TAP name '%s' is too long", name);
	strcpy(t->name, name);
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return error_set(e, "TAP '%s': /dev/net/tun does not exist (load the tun "
					    "module)", name);
		return error_errno(e, "TAP '%s': cannot open /dev/net/tun", name);
	}
	unsigned features = 0;
	if (ioctl(fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
		close(fd);
		return error_set(e, "TAP '%s': this kernel's TUN driver lacks IFF_VNET_HDR", name);
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;
		close(fd);
		return explain_setiff(name, err, e);
	}
	int hdr = TAP_VNET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		error_errno(e, "TAP '%s': TUNSETVNETHDRSZ", name);
		close(fd);
		return -1;
	}
	t->fd = fd;
	/* Start without offloads: the guest has not said what it can take yet. */
	if (tap_set_offloads(t, 0, e) < 0) {
		tap_close(t);
		return -1;
	}
	return 0;
}

void tap_close(struct tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int tap_set_offloads(struct tap *t, unsigned offloads, struct error *e)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0) {
		int err = errno;
		error_errno(e, "TAP '%s': TUNSETOFFLOAD 0x%x", t->name, offloads);
		errno = err; /* for tap_error_is_fatal */
		return -1;
	}
	t->offloads = offloads;
	return 0;
}

ssize_t tap_read(struct tap *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n;
	do
		n = readv(t->fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t tap_write(struct tap *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n;
	do
		n = writev(t->fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

bool tap_error_is_fatal(int err)
{
	/* EBADFD: the interface was deleted under us (the fd stays open, detached). */
	return err == EBADFD || err == EBADF || err == ENODEV;
}
