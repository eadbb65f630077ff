/* MSI-X (PCI Local Bus 3.0, 6.8.2): the capability, the vector table and PBA inside a BAR, and
 * delivery through KVM. A vector delivers ("is live") when MSI-X is enabled, the function is not
 * masked, the vector is not masked and its message is a valid LAPIC write; then its eventfd is
 * bound to its GSI (KVM_IRQFD) and the GSI routed to the message. Otherwise the eventfd is
 * unbound, signals accumulate in it and set the vector's PBA bit, and binding it again later
 * delivers the message once. */
#include "pci_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../arch/x86/layout.h"

/* An MSI is a DWORD write into the local APICs' range 0xFEExxxxx (Intel SDM 10.11.1). */
#define MSI_ADDRESS_MASK 0xfff00000u

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint64_t pba_bytes(unsigned nvectors)
{
	return 8ull * ((nvectors + 63) / 64);
}

static void report(struct pci_device *dev, const struct error *e)
{
	if (dev->msix->error_reported)
		return;
	dev->msix->error_reported = true;
	fprintf(stderr, "ember: %s: MSI-X: %s\n", dev->info.name, e->msg);
}

static bool message_valid(const struct pci_msix_vector *v)
{
	return (v->address_lo & MSI_ADDRESS_MASK) == (uint32_t)LAYOUT_LAPIC;
}

/* Empties eventfd `fd` (non-blocking); true when it held a signal. */
static bool take_signal(int fd)
{
	uint64_t count = 0;
	return read(fd, &count, sizeof(count)) == (ssize_t)sizeof(count) && count > 0;
}

/* Brings vector i's binding in line with the table and message control. MSI-X lock held. */
static void vector_apply(struct pci_device *dev, unsigned i)
{
	struct pci_msix *m = dev->msix;
	struct pci_msix_vector *v = &m->v[i];
	struct gsi_routes *routes = &dev->bus->routes;
	struct error e;
	bool deliver = m->enabled && !m->masked && !(v->control & PCI_MSIX_ENTRY_CTRL_MASKBIT) &&
		       message_valid(v);
	if (deliver && gsi_routes_set_msi(routes, v->gsi, v->address_lo, v->address_hi, v->data,
					  &e) < 0) {
		report(dev, &e);
		deliver = false;
	}
	if (deliver && !v->bound) {
		/* A message raised while the vector could not deliver waits in the eventfd.
		 * KVM_IRQFD would inject it from a kernel worker some time after binding, when
		 * the host's scheduler gets to it; taking it out first and sending it here makes
		 * it arrive as the unmask completes, as on hardware. */
		bool held = take_signal(v->fd);
		if (gsi_routes_irqfd(routes, v->fd, v->gsi, true, &e) < 0) {
			report(dev, &e);
			deliver = false;
		} else {
			v->bound = true;
			if (held && gsi_routes_send_msi(routes, v->address_lo, v->address_hi, v->data,
							&e) < 0)
				report(dev, &e);
		}
	}
	if (!deliver && v->bound) {
		atomic_store(&v->live, false);
		if (gsi_routes_irqfd(routes, v->fd, v->gsi, false, &e) < 0)
			report(dev, &e);
		v->bound = false;
	}
	if (deliver) {
		atomic_store(&v->live, true);
		/* Binding consumed whatever was pending in the eventfd. */
		atomic_fetch_and(&m->pending[i / 64], ~(1ull << (i % 64)));
	}
}

void pci_msix_control_written(struct pci_device *dev)
{
	struct pci_msix *m = dev->msix;
	uint16_t control = pci_cfg_read16(dev, m->cap + PCI_MSIX_FLAGS);
	bool enabled = control & PCI_MSIX_FLAGS_ENABLE;
	bool masked = control & PCI_MSIX_FLAGS_MASKALL;
	pthread_mutex_lock(&m->lock);
	if (enabled != m->enabled || masked != m->masked) {
		m->enabled = enabled;
		m->masked = masked;
		for (unsigned i = 0; i < m->nvectors; i++)
			vector_apply(dev, i);
	}
	pthread_mutex_unlock(&m->lock);
}

static uint32_t table_read32(const struct pci_msix *m, uint64_t offset)
{
	const struct pci_msix_vector *v = &m->v[offset / PCI_MSIX_ENTRY_SIZE];
	switch (offset % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR: return v->address_lo;
	case PCI_MSIX_ENTRY_UPPER_ADDR: return v->address_hi;
	case PCI_MSIX_ENTRY_DATA: return v->data;
	default: return v->control;
	}
}

static void table_write32(struct pci_device *dev, uint64_t offset, uint32_t value)
{
	struct pci_msix *m = dev->msix;
	unsigned i = (unsigned)(offset / PCI_MSIX_ENTRY_SIZE);
	struct pci_msix_vector *v = &m->v[i];
	switch (offset % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR: v->address_lo = value & ~3u; break; /* bits 1:0 are 0 */
	case PCI_MSIX_ENTRY_UPPER_ADDR: v->address_hi = value; break;
	case PCI_MSIX_ENTRY_DATA: v->data = value; break;
	default: v->control = value & PCI_MSIX_ENTRY_CTRL_MASKBIT; break; /* the rest reserved */
	}
	vector_apply(dev, i);
}

static uint32_t pba_read32(const struct pci_msix *m, uint64_t offset)
{
	uint64_t word = atomic_load(&m->pending[offset / 8]);
	return (uint32_t)(word >> (offset % 8 * 8));
}

/* Table and PBA take aligned DWORD and QWORD accesses (6.8.2); anything else reads all-ones
 * and writes nothing. A QWORD is handled as its two DWORDs, low first. */
static void msix_io(struct pci_device *dev, bool table, uint64_t offset, uint8_t *data,
		    uint32_t size, bool is_write)
{
	struct pci_msix *m = dev->msix;
	if ((size != 4 && size != 8) || (offset & (size - 1))) {
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (uint32_t done = 0; done < size; done += 4) {
		uint32_t value;
		if (!is_write) {
			value = table ? table_read32(m, offset + done) : pba_read32(m, offset + done);
			put32(data + done, value);
		} else if (table) {
			memcpy(&value, data + done, 4);
			table_write32(dev, offset + done, value);
		}
		/* PBA writes: read-only, ignored. */
	}
	pthread_mutex_unlock(&m->lock);
}

bool pci_msix_bar_access(struct pci_device *dev, unsigned bar, uint64_t offset, uint8_t *data,
			 uint32_t size, bool is_write)
{
	struct pci_msix *m = dev->msix;
	if (!m || bar != m->bar)
		return false;
	uint64_t table_len = (uint64_t)m->nvectors * PCI_MSIX_ENTRY_SIZE;
	/* The access lies inside the BAR (checked by the caller); it must also lie wholly inside
	 * the table or the PBA to reach them. */
	if (offset >= m->table_offset && offset - m->table_offset < table_len) {
		if (size <= table_len - (offset - m->table_offset))
			msix_io(dev, true, offset - m->table_offset, data, size, is_write);
		else if (!is_write)
			memset(data, 0xff, size);
		return true;
	}
	uint64_t pba_len = pba_bytes(m->nvectors);
	if (offset >= m->pba_offset && offset - m->pba_offset < pba_len) {
		if (size <= pba_len - (offset - m->pba_offset))
			msix_io(dev, false, offset - m->pba_offset, data, size, is_write);
		else if (!is_write)
			memset(data, 0xff, size);
		return true;
	}
	return false;
}

void pci_msix_notify(struct pci_device *dev, unsigned vector)
{
	struct pci_msix *m = dev->msix;
	if (!m || vector >= m->nvectors)
		return;
	struct pci_msix_vector *v = &m->v[vector];
	if (!atomic_load(&v->live))
		atomic_fetch_or(&m->pending[vector / 64], 1ull << (vector % 64));
	uint64_t one = 1;
	if (write(v->fd, &one, sizeof(one)) < 0) {
		/* EAGAIN only when 2^64-2 signals are outstanding; one more changes nothing */
	}
}

unsigned pci_msix_vectors(const struct pci_device *dev)
{
	return dev->msix ? dev->msix->nvectors : 0;
}

static int check_layout(const struct pci_device *dev, unsigned bar, uint32_t table_offset,
			uint32_t pba_offset, unsigned nvectors, struct error *e)
{
	const char *name = dev->info.name;
	if (dev->msix)
		return error_set(e, "%s: MSI-X added twice", name);
	if (dev->slot >= 0)
		return error_set(e, "%s: MSI-X added after plug", name);
	if (nvectors < 1 || nvectors > PCI_MSIX_MAX_VECTORS)
		return error_set(e, "%s: %u MSI-X vectors (1-%u)", name, nvectors,
				 PCI_MSIX_MAX_VECTORS);
	if (bar >= PCI_NUM_BARS || !dev->bars[bar].size)
		return error_set(e, "%s: MSI-X in BAR %u, which is not implemented", name, bar);
	uint64_t size = dev->bars[bar].size;
	uint64_t table_len = (uint64_t)nvectors * PCI_MSIX_ENTRY_SIZE;
	uint64_t pba_len = pba_bytes(nvectors);
	if ((table_offset | pba_offset) & PCI_MSIX_TABLE_BIR)
		return error_set(e, "%s: MSI-X table/PBA offsets must be 8-byte aligned", name);
	if (table_offset > size || table_len > size - table_offset || pba_offset > size ||
	    pba_len > size - pba_offset)
		return error_set(e, "%s: MSI-X table/PBA do not fit in BAR %u", name, bar);
	if (table_offset < pba_offset + pba_len && pba_offset < table_offset + table_len)
		return error_set(e, "%s: MSI-X table and PBA overlap", name);
	return 0;
}

static int init_vectors(struct pci_device *dev, struct error *e)
{
	struct pci_msix *m = dev->msix;
	for (unsigned i = 0; i < m->nvectors; i++)
		m->v[i].fd = -1;
	for (unsigned i = 0; i < m->nvectors; i++) {
		struct pci_msix_vector *v = &m->v[i];
		v->control = PCI_MSIX_ENTRY_CTRL_MASKBIT; /* vectors come out of reset masked */
		if (gsi_routes_alloc(&dev->bus->routes, &v->gsi, e) < 0)
			return -1;
		v->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->fd < 0)
			return error_errno(e, "eventfd for MSI-X vector %u", i);
	}
	return 0;
}

int pci_msix_add(struct pci_device *dev, unsigned bar, uint32_t table_offset,
		 uint32_t pba_offset, unsigned nvectors, struct error *e)
{
	if (check_layout(dev, bar, table_offset, pba_offset, nvectors, e) < 0)
		return -1;
	struct pci_msix *m = calloc(1, sizeof(*m));
	if (!m)
		return error_set(e, "%s: out of memory for MSI-X", dev->info.name);
	dev->msix = m;
	pthread_mutex_init(&m->lock, NULL);
	m->nvectors = nvectors;
	m->bar = bar;
	m->table_offset = table_offset;
	m->pba_offset = pba_offset;
	m->v = calloc(nvectors, sizeof(*m->v));
	m->pending = calloc(pba_bytes(nvectors) / 8, sizeof(*m->pending));
	if (!m->v || !m->pending) {
		pci_msix_free(dev);
		return error_set(e, "%s: out of memory for MSI-X", dev->info.name);
	}
	if (init_vectors(dev, e) < 0) {
		pci_msix_free(dev);
		return error_prefix(e, "%s", dev->info.name);
	}
	uint8_t cap[PCI_CAP_MSIX_SIZEOF] = { PCI_CAP_ID_MSIX };
	uint8_t wmask[PCI_CAP_MSIX_SIZEOF] = { 0 };
	put16(&cap[PCI_MSIX_FLAGS], (uint16_t)(nvectors - 1));
	put32(&cap[PCI_MSIX_TABLE], table_offset | bar);
	put32(&cap[PCI_MSIX_PBA], pba_offset | bar);
	put16(&wmask[PCI_MSIX_FLAGS], PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	if (pci_device_add_capability(dev, cap, sizeof(cap), wmask, &m->cap, e) < 0) {
		pci_msix_free(dev);
		return -1;
	}
	return 0;
}

void pci_msix_free(struct pci_device *dev)
{
	struct pci_msix *m = dev->msix;
	if (!m)
		return;
	for (unsigned i = 0; m->v && i < m->nvectors; i++) {
		struct pci_msix_vector *v = &m->v[i];
		struct error e;
		if (v->bound)
			gsi_routes_irqfd(&dev->bus->routes, v->fd, v->gsi, false, &e);
		if (v->gsi)
			gsi_routes_clear(&dev->bus->routes, v->gsi, &e);
		if (v->fd >= 0)
			close(v->fd);
	}
	pthread_mutex_destroy(&m->lock);
	free(m->v);
	free((void *)m->pending);
	free(m);
	dev->msix = NULL;
}
