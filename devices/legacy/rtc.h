/* An MC146818 CMOS RTC (ports 0x70/0x71) reading host time (UTC), with its 128 bytes of NVRAM. */
#ifndef EMBER_RTC_H
#define EMBER_RTC_H

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "../../vmm/irq.h"

struct rtc;

struct rtc *rtc_create(const struct irq_line *irq, struct error *e);
void rtc_destroy(struct rtc *r);
int rtc_attach(struct rtc *r, struct io_bus *pio, struct error *e);
void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
