#include "io_bus.h"

#include <stdlib.h>
#include <string.h>

/* Widest access any exit can carry (an 8-byte MMIO access). */
#define IO_BUS_MAX_ACCESS 8

void io_bus_init(struct io_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void io_bus_destroy(struct io_bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

/* Last byte of a range; ranges never wrap (io_bus_add refuses that), so this cannot overflow. */
static uint64_t range_last(const struct io_range *r)
{
	return r->base + (r->len - 1);
}

/* Index of the first range whose base is greater than addr (== nranges when there is none). The
 * range that could contain addr is the one just before it. */
static unsigned first_above(const struct io_bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nranges;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int overlap_error(const struct io_bus *bus, uint64_t base, uint64_t len, const char *name,
			 const struct io_range *owner, struct error *e)
{
	return error_set(e,
			 "%s bus: %s cannot claim 0x%llx-0x%llx: already claimed by %s (0x%llx-0x%llx)",
			 bus->name, name, (unsigned long long)base,
			 (unsigned long long)(base + (len - 1)), owner->name,
			 (unsigned long long)owner->base, (unsigned long long)range_last(owner));
}

static int grow(struct io_bus *bus, struct error *e)
{
	if (bus->nranges < bus->cap)
		return 0;
	unsigned cap = bus->cap ? bus->cap * 2 : 16;
	struct io_range *r = realloc(bus->ranges, cap * sizeof(*r));
	if (!r)
		return error_errno(e, "%s bus: cannot grow the range table", bus->name);
	bus->ranges = r;
	bus->cap = cap;
	return 0;
}

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
	       const char *name, struct error *e)
{
	if (!name)
		name = "unnamed device";
	if (len == 0 || !fn)
		return error_set(e, "%s bus: %s: empty range or missing handler at 0x%llx", bus->name,
				 name, (unsigned long long)base);
	if (base + (len - 1) < base)
		return error_set(e, "%s bus: %s: range at 0x%llx of 0x%llx bytes wraps around",
				 bus->name, name, (unsigned long long)base, (unsigned long long)len);

	pthread_rwlock_wrlock(&bus->lock);
	int rc = 0;
	unsigned at = first_above(bus, base);
	if (at > 0 && range_last(&bus->ranges[at - 1]) >= base)
		rc = overlap_error(bus, base, len, name, &bus->ranges[at - 1], e);
	else if (at < bus->nranges && bus->ranges[at].base <= base + (len - 1))
		rc = overlap_error(bus, base, len, name, &bus->ranges[at], e);
	else
		rc = grow(bus, e);
	if (rc == 0) {
		memmove(&bus->ranges[at + 1], &bus->ranges[at],
			(bus->nranges - at) * sizeof(bus->ranges[0]));
		bus->ranges[at] = (struct io_range){
			.base = base, .len = len, .fn = fn, .opaque = opaque, .name = name };
		bus->nranges++;
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int io_bus_remove(struct io_bus *bus, uint64_t base)
{
	pthread_rwlock_wrlock(&bus->lock);
	int rc = -1;
	unsigned at = first_above(bus, base);
	if (at > 0 && bus->ranges[at - 1].base == base) {
		at--;
		memmove(&bus->ranges[at], &bus->ranges[at + 1],
			(bus->nranges - at - 1) * sizeof(bus->ranges[0]));
		bus->nranges--;
		rc = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

/* The handler runs with the read lock held, so io_bus_remove (write lock) cannot return while a
 * vCPU is still inside the device it unregisters. The price: a handler must never add or remove
 * ranges on its own bus (that would deadlock); such changes must be deferred. */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t size, bool is_write)
{
	if (size == 0 || size > IO_BUS_MAX_ACCESS)
		return false; /* not an access any exit produces; data's extent is unknown */

	pthread_rwlock_rdlock(&bus->lock);
	bool claimed = false;
	unsigned at = first_above(bus, addr);
	if (at > 0) {
		const struct io_range *r = &bus->ranges[at - 1];
		uint64_t offset = addr - r->base;
		/* The whole access must fall inside the range: a device never sees bytes that are not
		 * its own. An access straddling the end is treated as unclaimed. */
		if (offset < r->len && size <= r->len - offset) {
			r->fn(r->opaque, offset, data, size, is_write);
			claimed = true;
		}
	}
	pthread_rwlock_unlock(&bus->lock);

	if (!claimed && !is_write)
		memset(data, 0xff, size); /* a floating bus reads all-ones */
	return claimed;
}
