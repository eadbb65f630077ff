/* How a device asks the VM to power off or reset (ACPI S5, i8042 reset, test exit port).
 * The VM decides what that means (a reset ends ember with status 0, like Firecracker). */
#ifndef EMBER_POWER_H
#define EMBER_POWER_H

enum power_event {
	POWER_OFF,    /* guest asked to power off: exit 0 */
	POWER_RESET,  /* guest asked to reboot: exit 0 */
	POWER_EXIT,   /* test guest wrote an exit status to the test port: exit with status */
};

struct power_ctl {
	void (*request)(void *opaque, enum power_event ev, int status);
	void *opaque;
};

static inline void power_request(const struct power_ctl *p, enum power_event ev, int status)
{
	if (p && p->request)
		p->request(p->opaque, ev, status);
}

#endif
