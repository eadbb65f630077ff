#include "gsi_routes.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define GSI_ROUTES_FIRST_MSI GSI_ROUTES_IRQCHIP_PINS
#define GSI_ROUTES_TABLE_MAX (GSI_ROUTES_IRQCHIP_PINS + GSI_ROUTES_PIC_PINS + GSI_ROUTES_MAX_MSI)

void gsi_routes_init(struct gsi_routes *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
}

void gsi_routes_destroy(struct gsi_routes *r)
{
	pthread_mutex_destroy(&r->lock);
}

int gsi_routes_alloc(struct gsi_routes *r, uint32_t *gsi, struct error *e)
{
	pthread_mutex_lock(&r->lock);
	int rc = 0;
	if (r->nmsi >= GSI_ROUTES_MAX_MSI)
		rc = error_set(e, "out of MSI routes (%u in use)", GSI_ROUTES_MAX_MSI);
	else
		*gsi = GSI_ROUTES_FIRST_MSI + r->nmsi++;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static struct gsi_msi_route *route_of(struct gsi_routes *r, uint32_t gsi)
{
	if (gsi < GSI_ROUTES_FIRST_MSI || gsi - GSI_ROUTES_FIRST_MSI >= r->nmsi)
		return NULL;
	return &r->msi[gsi - GSI_ROUTES_FIRST_MSI];
}

/* The irqchip part, as KVM sets it up by default: every IOAPIC pin, and the PIC pins of
 * GSIs 0-15 (master for 0-7, slave for 8-15). */
static unsigned fill_irqchip_routes(struct kvm_irq_routing_entry *out)
{
	unsigned n = 0;
	for (uint32_t gsi = 0; gsi < GSI_ROUTES_IRQCHIP_PINS; gsi++) {
		out[n++] = (struct kvm_irq_routing_entry){ .gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi } };
		if (gsi < GSI_ROUTES_PIC_PINS)
			out[n++] = (struct kvm_irq_routing_entry){ .gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
								    KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 } };
	}
	return n;
}

/* Sends the whole table to KVM. Called with the lock held. */
static int commit(struct gsi_routes *r, struct error *e)
{
	r->commits++;
	if (r->vm_fd < 0)
		return 0;
	size_t bytes = sizeof(struct kvm_irq_routing) +
		       GSI_ROUTES_TABLE_MAX * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *table = calloc(1, bytes);
	if (!table)
		return error_set(e, "out of memory for the GSI routing table");
	unsigned n = fill_irqchip_routes(table->entries);
	for (uint32_t i = 0; i < r->nmsi; i++) {
		const struct gsi_msi_route *m = &r->msi[i];
		if (!m->valid)
			continue;
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = GSI_ROUTES_FIRST_MSI + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = m->address_lo, .address_hi = m->address_hi,
				   .data = m->data } };
	}
	table->nr = n;
	int rc = ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, table);
	free(table);
	return rc < 0 ? error_errno(e, "KVM_SET_GSI_ROUTING (%u routes)", n) : 0;
}

int gsi_routes_set_msi(struct gsi_routes *r, uint32_t gsi, uint32_t address_lo,
		       uint32_t address_hi, uint32_t data, struct error *e)
{
	pthread_mutex_lock(&r->lock);
	int rc = 0;
	struct gsi_msi_route *m = route_of(r, gsi);
	struct gsi_msi_route want = { .valid = true, .address_lo = address_lo,
				      .address_hi = address_hi, .data = data };
	if (!m)
		rc = error_set(e, "GSI %u is not an allocated MSI route", gsi);
	else if (memcmp(m, &want, sizeof(want)) != 0) {
		*m = want;
		rc = commit(r, e);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int gsi_routes_clear(struct gsi_routes *r, uint32_t gsi, struct error *e)
{
	pthread_mutex_lock(&r->lock);
	int rc = 0;
	struct gsi_msi_route *m = route_of(r, gsi);
	if (m && m->valid) {
		memset(m, 0, sizeof(*m));
		rc = commit(r, e);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int gsi_routes_irqfd(struct gsi_routes *r, int fd, uint32_t gsi, bool assign, struct error *e)
{
	if (r->vm_fd < 0)
		return 0;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi,
				   .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };
	if (ioctl(r->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return error_errno(e, "KVM_IRQFD %s (GSI %u)", assign ? "assign" : "deassign", gsi);
	return 0;
}

int gsi_routes_send_msi(struct gsi_routes *r, uint32_t address_lo, uint32_t address_hi,
			uint32_t data, struct error *e)
{
	__atomic_fetch_add(&r->messages_sent, 1, __ATOMIC_RELAXED);
	if (r->vm_fd < 0)
		return 0;
	struct kvm_msi msi = { .address_lo = address_lo, .address_hi = address_hi, .data = data };
	/* > 0 delivered, 0 blocked by the guest's APIC state (a guest choice, not an error). */
	if (ioctl(r->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		return error_errno(e, "KVM_SIGNAL_MSI 0x%x:0x%x data 0x%x", address_hi, address_lo,
				   data);
	return 0;
}
