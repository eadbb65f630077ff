/* An MC146818A CMOS real-time clock. The clock is host UTC plus an offset the guest sets by
 * writing the time registers; everything else is 128 bytes of CMOS RAM.
 *
 * Time is read live from the host, so an update is never "in progress" (register A's UIP bit
 * reads 0) and a reader that checks the seconds twice, as Linux does, gets a consistent value.
 * No interrupt is generated: register C never reports a flag; the IRQ line is kept for later. */
#include "rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../arch/x86/layout.h"

#define RTC_NREGS 128
#define RTC_OFF_INDEX 0 /* port 0x70 */
#define RTC_OFF_DATA  1 /* port 0x71 */
#define RTC_NPORTS    2

#define INDEX_NMI_MASK 0x80 /* shares the index port; NMIs are not gated here */

/* Registers. The alarm registers (1, 3, 5) are plain storage. */
#define REG_SECONDS  0x00
#define REG_MINUTES  0x02
#define REG_HOURS    0x04
#define REG_WEEKDAY  0x06
#define REG_MDAY     0x07
#define REG_MONTH    0x08
#define REG_YEAR     0x09
#define REG_A        0x0a
#define REG_B        0x0b
#define REG_C        0x0c
#define REG_D        0x0d
#define REG_CENTURY  0x32 /* the PC convention the FADT's CENTURY field points at */

#define A_UIP        0x80 /* update in progress: never, time is read live */
#define B_SET        0x80 /* updates halted while the guest sets the clock */
#define B_BINARY     0x04 /* DM: binary instead of BCD */
#define B_24H        0x02
#define D_VRT        0x80 /* valid RAM and time: the battery is fine */
#define HOUR_PM      0x80 /* in 12-hour mode */

#define A_DEFAULT    0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define B_DEFAULT    B_24H

/* Plain device state (save/restore copies it as is). */
struct rtc_state {
	uint8_t index;
	/* Registers and NVRAM. The time registers hold the last snapshot of the clock: refreshed on
	 * every read while the clock runs, frozen (and writable) while B.SET is set. */
	uint8_t cmos[RTC_NREGS];
	int64_t offset_s; /* guest clock minus host clock, in seconds */
};

struct rtc {
	pthread_mutex_t lock;
	struct irq_line irq; /* IRQ 8, unused until periodic/alarm/update interrupts exist */
	struct rtc_state st;
};

static bool is_time_reg(unsigned reg)
{
	switch (reg) {
	case REG_SECONDS:
	case REG_MINUTES:
	case REG_HOURS:
	case REG_WEEKDAY:
	case REG_MDAY:
	case REG_MONTH:
	case REG_YEAR:
	case REG_CENTURY:
		return true;
	}
	return false;
}

/* ---- encoding ---- */

static bool binary_mode(const struct rtc_state *st)
{
	return st->cmos[REG_B] & B_BINARY;
}

static uint8_t encode(const struct rtc_state *st, int value)
{
	if (binary_mode(st))
		return (uint8_t)value;
	return (uint8_t)(((value / 10) << 4) | (value % 10));
}

/* Decodes a guest-written field; false if it is not a valid number in the current mode. */
static bool decode(const struct rtc_state *st, uint8_t raw, int *value)
{
	if (binary_mode(st)) {
		*value = raw;
		return true;
	}
	if ((raw >> 4) > 9 || (raw & 0x0f) > 9)
		return false;
	*value = (raw >> 4) * 10 + (raw & 0x0f);
	return true;
}

static uint8_t encode_hour(const struct rtc_state *st, int hour)
{
	if (st->cmos[REG_B] & B_24H)
		return encode(st, hour);
	int h12 = hour % 12 == 0 ? 12 : hour % 12;
	return encode(st, h12) | (hour >= 12 ? HOUR_PM : 0);
}

static bool decode_hour(const struct rtc_state *st, uint8_t raw, int *hour)
{
	if (st->cmos[REG_B] & B_24H)
		return decode(st, raw, hour) && *hour <= 23;
	int h12;
	if (!decode(st, raw & ~HOUR_PM, &h12) || h12 < 1 || h12 > 12)
		return false;
	*hour = h12 % 12 + ((raw & HOUR_PM) ? 12 : 0);
	return true;
}

/* ---- the clock ---- */

static int64_t host_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* Writes the guest's time at host time `now` into the time registers, in the current format. */
static void snapshot_time(struct rtc_state *st, int64_t now)
{
	time_t t = (time_t)(now + st->offset_s);
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		st->offset_s = 0; /* an offset beyond what the host can represent: back to host time */
		t = (time_t)now;
		gmtime_r(&t, &tm);
	}
	int year = tm.tm_year + 1900;
	st->cmos[REG_SECONDS] = encode(st, tm.tm_sec);
	st->cmos[REG_MINUTES] = encode(st, tm.tm_min);
	st->cmos[REG_HOURS] = encode_hour(st, tm.tm_hour);
	st->cmos[REG_WEEKDAY] = encode(st, tm.tm_wday + 1); /* 1 = Sunday */
	st->cmos[REG_MDAY] = encode(st, tm.tm_mday);
	st->cmos[REG_MONTH] = encode(st, tm.tm_mon + 1);
	st->cmos[REG_YEAR] = encode(st, year % 100);
	st->cmos[REG_CENTURY] = encode(st, (year / 100) % 100);
}

/* Makes the time registers the guest's clock: the offset from host time is what is kept. A
 * guest writing an impossible time (bad BCD, minute 75) leaves the clock as it was. The weekday
 * register is not consulted: it follows from the date. */
static void commit_time(struct rtc_state *st, int64_t now)
{
	int sec, min, hour, mday, mon, year, century;
	if (!decode(st, st->cmos[REG_SECONDS], &sec) || sec > 59 ||
	    !decode(st, st->cmos[REG_MINUTES], &min) || min > 59 ||
	    !decode_hour(st, st->cmos[REG_HOURS], &hour) ||
	    !decode(st, st->cmos[REG_MDAY], &mday) || mday < 1 || mday > 31 ||
	    !decode(st, st->cmos[REG_MONTH], &mon) || mon < 1 || mon > 12 ||
	    !decode(st, st->cmos[REG_YEAR], &year) || year > 99 ||
	    !decode(st, st->cmos[REG_CENTURY], &century) || century > 99)
		return;
	struct tm tm = {
		.tm_sec = sec, .tm_min = min, .tm_hour = hour, .tm_mday = mday,
		.tm_mon = mon - 1, .tm_year = century * 100 + year - 1900,
	};
	/* Years 0-9999 always fit a 64-bit time_t, so timegm cannot fail here. */
	st->offset_s = (int64_t)timegm(&tm) - now;
}

/* ---- register access ---- */

static uint8_t read_reg(struct rtc_state *st, unsigned reg)
{
	if (is_time_reg(reg)) {
		if (!(st->cmos[REG_B] & B_SET))
			snapshot_time(st, host_seconds());
		return st->cmos[reg];
	}
	switch (reg) {
	case REG_A:
		return st->cmos[REG_A] & ~A_UIP;
	case REG_C: {
		uint8_t flags = st->cmos[REG_C]; /* always 0: nothing raises a flag (no interrupts) */
		st->cmos[REG_C] = 0;             /* reading C acknowledges its flags */
		return flags;
	}
	case REG_D:
		return D_VRT;
	}
	return st->cmos[reg];
}

static void write_b(struct rtc_state *st, uint8_t value)
{
	uint8_t old = st->cmos[REG_B];
	if ((value & B_SET) && !(old & B_SET))
		snapshot_time(st, host_seconds()); /* freeze the clock in the format it was read in */
	st->cmos[REG_B] = value;
	if (!(value & B_SET) && (old & B_SET))
		commit_time(st, host_seconds()); /* the clock restarts from the time written */
}

static void write_reg(struct rtc_state *st, unsigned reg, uint8_t value)
{
	if (is_time_reg(reg)) {
		/* While SET is held the guest edits the frozen snapshot; otherwise one field changes and
		 * the rest keep running. */
		bool running = !(st->cmos[REG_B] & B_SET);
		int64_t now = host_seconds();
		if (running)
			snapshot_time(st, now);
		st->cmos[reg] = value;
		if (running)
			commit_time(st, now);
		return;
	}
	switch (reg) {
	case REG_A:
		/* The divider and rate bits are kept for the guest to read back; the clock runs from
		 * host time whatever they say. */
		st->cmos[REG_A] = value & ~A_UIP;
		break;
	case REG_B:
		write_b(st, value);
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		st->cmos[reg] = value; /* alarms and NVRAM */
		break;
	}
}

void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct rtc *r = opaque;
	if (size == 0 || size > 8)
		return;
	pthread_mutex_lock(&r->lock);
	/* Wider accesses split into byte cycles: a 16-bit write to 0x70 sets the index, then hits
	 * the data port. */
	for (uint32_t i = 0; i < size; i++) {
		bool mine = offset < RTC_NPORTS && i < RTC_NPORTS - offset;
		uint64_t port = mine ? offset + i : RTC_NPORTS;
		if (is_write) {
			if (port == RTC_OFF_INDEX)
				r->st.index = data[i] & ~INDEX_NMI_MASK;
			else if (port == RTC_OFF_DATA)
				write_reg(&r->st, r->st.index, data[i]);
		} else {
			/* The PC's index port is write-only: it reads as a floating bus. */
			data[i] = port == RTC_OFF_DATA ? read_reg(&r->st, r->st.index) : 0xff;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

struct rtc *rtc_create(const struct irq_line *irq, struct error *e)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r) {
		error_errno(e, "rtc: cannot allocate the CMOS clock");
		return NULL;
	}
	int rc = pthread_mutex_init(&r->lock, NULL);
	if (rc != 0) {
		free(r);
		errno = rc;
		error_errno(e, "rtc: cannot create the clock lock");
		return NULL;
	}
	r->irq = irq ? *irq : (struct irq_line){ .vm_fd = -1 };
	r->st.cmos[REG_A] = A_DEFAULT;
	r->st.cmos[REG_B] = B_DEFAULT;
	r->st.cmos[REG_D] = D_VRT;
	return r;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int rtc_attach(struct rtc *r, struct io_bus *pio, struct error *e)
{
	return io_bus_add(pio, PORT_RTC, RTC_NPORTS, rtc_io, r, "rtc MC146818 CMOS clock", e);
}
