/* COM1 output and printf-lite. Each byte is one `out` to the THR, i.e. one VM exit. Ember's
 * UART is always ready, so by default we do not poll LSR (another exit per byte); build with
 * -DRT_CONSOLE_POLL_LSR for a UART that really has a FIFO to wait for. */
#include "rt.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20

static struct spinlock console_lock;

void console_putc(char c)
{
#ifdef RT_CONSOLE_POLL_LSR
	for (unsigned tries = 0; tries < 100000; tries++)
		if (inb(PORT_COM1 + UART_LSR) & UART_LSR_THRE)
			break;
#endif
	outb(PORT_COM1 + UART_THR, (uint8_t)c);
}

void console_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		console_putc(s[i]);
}

void console_break_lock(void)
{
	spin_unlock(&console_lock);
}

struct format_spec {
	unsigned width;
	bool zero_pad;
	unsigned long_count; /* 0: int, 1: long, 2: long long (all 64-bit but int) */
};

/* Writes v in base 10 or 16, padded to spec->width. */
static void put_unsigned(uint64_t v, unsigned base, const struct format_spec *spec)
{
	char buf[24];
	unsigned n = 0;

	do {
		unsigned digit = (unsigned)(v % base);
		buf[n++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
		v /= base;
	} while (v && n < sizeof(buf));
	for (unsigned pad = n; pad < spec->width; pad++)
		console_putc(spec->zero_pad ? '0' : ' ');
	while (n)
		console_putc(buf[--n]);
}

static void put_signed(int64_t v, const struct format_spec *spec)
{
	struct format_spec rest = *spec;

	if (v < 0) {
		console_putc('-');
		if (rest.width)
			rest.width--;
		put_unsigned(0 - (uint64_t)v, 10, &rest);
		return;
	}
	put_unsigned((uint64_t)v, 10, spec);
}

static void put_string(const char *s, const struct format_spec *spec)
{
	size_t len;

	if (!s)
		s = "(null)";
	len = strlen(s);
	for (size_t pad = len; pad < spec->width; pad++)
		console_putc(' ');
	console_write(s, len);
}

/* Parses flags, width and length modifiers after '%'; returns the conversion character. */
static const char *parse_spec(const char *p, struct format_spec *spec)
{
	*spec = (struct format_spec){ 0 };
	if (*p == '0') {
		spec->zero_pad = true;
		p++;
	}
	while (*p >= '0' && *p <= '9')
		spec->width = spec->width * 10 + (unsigned)(*p++ - '0');
	while (*p == 'l' || *p == 'z') {
		spec->long_count++; /* 'z': size_t is 64-bit like long */
		p++;
	}
	return p;
}

static uint64_t take_unsigned(va_list *ap, const struct format_spec *spec)
{
	return spec->long_count ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned int);
}

static int64_t take_signed(va_list *ap, const struct format_spec *spec)
{
	return spec->long_count ? va_arg(*ap, int64_t) : va_arg(*ap, int);
}

static void format(const char *fmt, va_list *ap)
{
	for (const char *p = fmt; *p; p++) {
		struct format_spec spec;

		if (*p != '%') {
			console_putc(*p);
			continue;
		}
		p = parse_spec(p + 1, &spec);
		switch (*p) {
		case 'd':
		case 'i':
			put_signed(take_signed(ap, &spec), &spec);
			break;
		case 'u':
			put_unsigned(take_unsigned(ap, &spec), 10, &spec);
			break;
		case 'x':
			put_unsigned(take_unsigned(ap, &spec), 16, &spec);
			break;
		case 'p':
			console_write("0x", 2);
			put_unsigned((uint64_t)(uintptr_t)va_arg(*ap, void *), 16, &spec);
			break;
		case 's':
			put_string(va_arg(*ap, const char *), &spec);
			break;
		case 'c':
			console_putc((char)va_arg(*ap, int));
			break;
		case '%':
			console_putc('%');
			break;
		case '\0':
			return;
		default: /* unknown conversion: show it rather than guess */
			console_putc('%');
			console_putc(*p);
			break;
		}
	}
}

void console_vprintf(const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	spin_lock(&console_lock);
	format(fmt, &copy);
	spin_unlock(&console_lock);
	va_end(copy);
}

void console_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	console_vprintf(fmt, ap);
	va_end(ap);
}
