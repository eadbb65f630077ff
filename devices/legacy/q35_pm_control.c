/* The Q35 PM1a control register: see q35_pm_control.h. */
#include "q35_pm_control.h"

#include <pthread.h>
#include <stdlib.h>

#define PM1_CNT_PORTS 2

struct q35_pm_control {
	pthread_mutex_t lock; /* byte writes from several vCPUs assemble one register */
	struct power_ctl power;
	struct q35_pm_control_state st;
};

void q35_pm_control_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct q35_pm_control *p = opaque;
	pthread_mutex_lock(&p->lock);
	uint16_t v = p->st.pm1_cnt;
	for (uint32_t i = 0; i < size; i++) {
		uint64_t at = offset + i;
		if (!is_write)
			data[i] = at < PM1_CNT_PORTS ? (uint8_t)(v >> (8 * at)) : 0xff;
		else if (at < PM1_CNT_PORTS)
			v = (uint16_t)((v & ~(0xffu << (8 * at))) | (unsigned)data[i] << (8 * at));
	}
	bool off = false;
	if (is_write) {
		off = (v & Q35_PM1_CNT_SLP_EN) && Q35_PM1_CNT_SLP_TYP(v) == Q35_SLP_TYP_S5;
		p->st.pm1_cnt = (uint16_t)(v & ~Q35_PM1_CNT_SLP_EN); /* SLP_EN reads as 0 */
	}
	pthread_mutex_unlock(&p->lock);
	/* Other sleep types: a VM cannot suspend; the write is only stored. */
	if (off)
		power_request(&p->power, POWER_OFF, 0);
}

struct q35_pm_control *q35_pm_control_create(const struct power_ctl *power, struct error *e)
{
	struct q35_pm_control *p = calloc(1, sizeof(*p));
	if (!p) {
		error_set(e, "q35 pm control: out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	if (power)
		p->power = *power;
	return p;
}

void q35_pm_control_destroy(struct q35_pm_control *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int q35_pm_control_attach(struct q35_pm_control *p, struct io_bus *pio, uint16_t port,
			  struct error *e)
{
	return io_bus_add(pio, port, PM1_CNT_PORTS, q35_pm_control_io, p, "q35 pm1 control", e);
}

void q35_pm_control_save(struct q35_pm_control *p, struct q35_pm_control_state *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}

void q35_pm_control_restore(struct q35_pm_control *p, const struct q35_pm_control_state *in)
{
	pthread_mutex_lock(&p->lock);
	p->st.pm1_cnt = (uint16_t)(in->pm1_cnt & ~Q35_PM1_CNT_SLP_EN);
	pthread_mutex_unlock(&p->lock);
}
