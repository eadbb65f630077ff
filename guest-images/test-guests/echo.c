/* Serial input: reads lines from COM1 and prints each back as "echo: <line>" with a running byte
 * count; the line "quit" ends the VM with ACPI power-off. Checks that host input reaches the guest
 * in order and without loss, from a pipe or a terminal. Polls LSR.DR: no interrupts needed. */
#include "rt/rt.h"

#define COM1_LSR   (PORT_COM1 + 5)
#define LSR_DR     0x01
#define LINE_MAX   256

static char read_byte(void)
{
	while (!(inb(COM1_LSR) & LSR_DR))
		cpu_relax();
	return (char)inb(PORT_COM1);
}

static bool is_quit(const char *line, size_t len)
{
	return len == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't';
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	char line[LINE_MAX + 1];
	size_t len = 0;
	unsigned long total = 0;
	console_printf("echo: ready\n");
	for (;;) {
		char c = read_byte();
		total++;
		/* A terminal in raw mode sends CR for Enter; a pipe sends LF. Either ends a line. */
		bool end_of_line = c == '\r' || c == '\n';
		if (!end_of_line && len < LINE_MAX) {
			line[len++] = c;
			continue;
		}
		if (end_of_line && len == 0)
			continue; /* the LF of a CRLF pair */
		line[len] = '\0';
		if (is_quit(line, len)) {
			console_printf("echo: quit after %lu bytes\n", total);
			acpi_poweroff();
		}
		console_printf("echo: %s\n", line);
		len = 0;
	}
}
