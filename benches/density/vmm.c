#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "vmm.h"

/* The idle guest's ready byte (ASCII ACK), as benches/density/guest/idle.S writes it. */
#define GUEST_READY_BYTE '\x06'
/* Printed by the Linux guest's /init (guest-images/debian/guest-init.sh) once it is up. */
#define LINUX_READY_TEXT "EMBER-GUEST-READY"
/* The Linux guest idles in a shell loop; base64 of "while :; do sleep 3600; done", passed as
 * ember.cmd64 so that no quoting is needed. */
#define LINUX_IDLE_CMD64 "d2hpbGUgOjsgZG8gc2xlZXAgMzYwMDsgZG9uZQ=="

#ifndef EMBER_SOURCE_ROOT
#define EMBER_SOURCE_ROOT "."
#endif

/* ---- files ---- */

static int exe_dir(char *dir, size_t size, struct error *e)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n < 0)
		return error_errno(e, "cannot resolve /proc/self/exe");
	path[n] = '\0';
	snprintf(dir, size, "%s", dirname(path));
	return 0;
}

static int need_file(const char *path, const char *what, const char *hint, struct error *e)
{
	if (access(path, R_OK) == 0)
		return 0;
	return error_errno(e, "%s %s%s", what, path, hint);
}

static int find_small_guest(struct density_guest_files *g, struct error *e)
{
	char dir[PATH_MAX];
	if (exe_dir(dir, sizeof(dir), e) < 0)
		return -1;
	static const char hint[] = " (build it: meson compile -C <build dir> density-idle "
				   "density-idle-debugcon density-idle-flat)";
	snprintf(g->pvh, sizeof(g->pvh), "%.3900s/benches/density/guest/density-idle.elf", dir);
	snprintf(g->pvh_debugcon, sizeof(g->pvh_debugcon),
		 "%.3900s/benches/density/guest/density-idle-debugcon.elf", dir);
	snprintf(g->flat, sizeof(g->flat), "%.3900s/benches/density/guest/density-idle-flat.bin", dir);
	if (need_file(g->pvh, "small guest", hint, e) < 0 ||
	    need_file(g->pvh_debugcon, "small guest", hint, e) < 0 ||
	    need_file(g->flat, "small guest", hint, e) < 0)
		return -1;
	return 0;
}

static int find_linux_guest(struct density_guest_files *g, struct error *e)
{
	char cache[PATH_MAX];
	const char *env = getenv("EMBER_CACHE");
	snprintf(cache, sizeof(cache), "%.3900s/guest", env && *env ? env : EMBER_SOURCE_ROOT "/.cache");
	static const char hint[] = " (build it: guest-images/debian/build-default-guest.sh)";
	snprintf(g->pvh, sizeof(g->pvh), "%.3900s/vmlinux", cache);
	snprintf(g->pvh_debugcon, sizeof(g->pvh_debugcon), "%s", g->pvh);
	snprintf(g->bzimage, sizeof(g->bzimage), "%.3900s/vmlinuz", cache);
	snprintf(g->initrd, sizeof(g->initrd), "%.3900s/initramfs.cpio.gz", cache);
	if (need_file(g->pvh, "Linux guest", hint, e) < 0 ||
	    need_file(g->initrd, "Linux guest initrd", hint, e) < 0)
		return -1;
	return 0;
}

int density_guest_find(struct density_guest_files *g, const struct density_options *o,
		       struct error *e)
{
	memset(g, 0, sizeof(*g));
	if (o->guest == DENSITY_GUEST_LINUX)
		snprintf(g->cmdline, sizeof(g->cmdline),
			 "console=ttyS0 quiet panic=-1 ember.cmd64=" LINUX_IDLE_CMD64);
	if (o->kernel) {
		/* One image for every VMM: it must signal readiness the way the guest kind says. */
		snprintf(g->pvh, sizeof(g->pvh), "%s", o->kernel);
		snprintf(g->pvh_debugcon, sizeof(g->pvh_debugcon), "%s", o->kernel);
		snprintf(g->flat, sizeof(g->flat), "%s", o->kernel);
		snprintf(g->bzimage, sizeof(g->bzimage), "%s", o->kernel);
		snprintf(g->initrd, sizeof(g->initrd), "%s", o->initrd ? o->initrd : "");
		if (need_file(o->kernel, "kernel", "", e) < 0)
			return -1;
		return o->initrd ? need_file(o->initrd, "initrd", "", e) : 0;
	}
	return o->guest == DENSITY_GUEST_LINUX ? find_linux_guest(g, e) : find_small_guest(g, e);
}

/* ---- binaries ---- */

bool density_find_in_path(const char *name, char *out, size_t size)
{
	if (strchr(name, '/')) {
		snprintf(out, size, "%s", name);
		return access(out, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(out, size, "%.*s/%s", (int)len, path, name);
		if (len && access(out, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* First line of `argv` (stdout+stderr), or "" when it cannot run. */
static void first_output_line(char *const argv[], char *buf, size_t size)
{
	buf[0] = '\0';
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC), fd = -1;
	if (null_fd < 0)
		return;
	uint64_t t;
	pid_t pid = density_spawn(argv, null_fd, &fd, &t, NULL);
	close(null_fd);
	if (pid < 0)
		return;
	size_t len = 0;
	ssize_t n;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	close(fd);
	waitpid(pid, NULL, 0);
}

/* ---- command lines ---- */

struct argv_builder {
	struct density_launch *l;
	unsigned argc;
	size_t used;
	bool overflow;
};

static void arg(struct argv_builder *b, const char *s)
{
	size_t len = strlen(s) + 1;
	unsigned max_args = sizeof(b->l->argv) / sizeof(b->l->argv[0]) - 1;
	if (b->argc >= max_args || b->used + len > sizeof(b->l->strings)) {
		b->overflow = true;
		return;
	}
	char *dst = b->l->strings + b->used;
	memcpy(dst, s, len);
	b->used += len;
	b->l->argv[b->argc++] = dst;
	b->l->argv[b->argc] = NULL;
}

static const char *mem_arg(uint64_t bytes, char buf[32])
{
	snprintf(buf, 32, "%lluM", (unsigned long long)(bytes >> 20));
	return buf;
}

static void build_ember(struct argv_builder *b, const struct density_options *o,
			const struct density_guest_files *g)
{
	char mem[32];
	arg(b, "run");
	arg(b, "--kernel");
	arg(b, g->pvh);
	arg(b, "--memory");
	arg(b, mem_arg(o->guest_mem, mem));
	if (o->guest == DENSITY_GUEST_SMALL) {
		/* A guest that touches a few pages gains nothing from THP, and each 2 MiB region it
		 * touches would cost a whole huge page: density deployments of small guests turn it
		 * off (docs/density.md). */
		arg(b, "--memory-backing");
		arg(b, "anon,thp=off");
	}
	if (g->initrd[0]) {
		arg(b, "--initrd");
		arg(b, g->initrd);
	}
	if (g->cmdline[0]) {
		arg(b, "--cmdline");
		arg(b, g->cmdline);
	}
}

/* microvm as the issue prescribes it: no option ROMs, no RTC, KVM, the host CPU model. The small
 * guest signals through isa-debugcon on stdout; the Linux guest talks on the serial port. */
static void build_qemu(struct argv_builder *b, const struct density_options *o,
		       const struct density_guest_files *g)
{
	char mem[32];
	bool small = o->guest == DENSITY_GUEST_SMALL;
	arg(b, "-M");
	arg(b, small ? "microvm,x-option-roms=off,rtc=off,isa-serial=off"
		     : "microvm,x-option-roms=off,rtc=off");
	arg(b, "-accel");
	arg(b, "kvm");
	arg(b, "-cpu");
	arg(b, "host");
	arg(b, "-m");
	arg(b, mem_arg(o->guest_mem, mem));
	arg(b, "-smp");
	arg(b, "1");
	arg(b, "-nodefaults");
	arg(b, "-no-user-config");
	arg(b, "-display");
	arg(b, "none");
	if (small) {
		arg(b, "-chardev");
		arg(b, "stdio,id=ready");
		arg(b, "-device");
		arg(b, "isa-debugcon,iobase=0xe9,chardev=ready");
	} else {
		arg(b, "-serial");
		arg(b, "stdio");
	}
	arg(b, "-kernel");
	arg(b, g->pvh_debugcon);
	if (g->initrd[0]) {
		arg(b, "-initrd");
		arg(b, g->initrd);
	}
	if (g->cmdline[0]) {
		arg(b, "-append");
		arg(b, g->cmdline);
	}
}

/* kvmtool cannot load a PVH ELF: the small guest comes as a flat real-mode binary, the Linux
 * guest as its bzImage. --nodefaults keeps it from setting up its default 9p root. */
static void build_kvmtool(struct argv_builder *b, const struct density_options *o,
			  const struct density_guest_files *g)
{
	char mem[32];
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)(o->guest_mem >> 20));
	arg(b, "run");
	arg(b, "--nodefaults");
	arg(b, "-c");
	arg(b, "1");
	arg(b, "-m");
	arg(b, mem);
	arg(b, "-k");
	arg(b, o->guest == DENSITY_GUEST_SMALL ? g->flat : g->bzimage);
	if (g->initrd[0]) {
		arg(b, "-i");
		arg(b, g->initrd);
	}
	if (g->cmdline[0]) {
		arg(b, "-p");
		arg(b, g->cmdline);
	}
}

static void set_ready_marker(struct density_launch *l, const struct density_options *o)
{
	if (o->guest == DENSITY_GUEST_LINUX) {
		l->ready_kind = READY_TEXT;
		snprintf(l->ready_text, sizeof(l->ready_text), "%s", LINUX_READY_TEXT);
		return;
	}
	switch (l->vmm) {
	case DENSITY_EMBER:
		l->ready_kind = READY_EMBER_LOG;
		break;
	case DENSITY_QEMU:
		l->ready_kind = READY_BYTE;
		l->ready_text[0] = GUEST_READY_BYTE;
		break;
	default:
		l->ready_kind = READY_TEXT;
		snprintf(l->ready_text, sizeof(l->ready_text), "READY");
		break;
	}
}

static int find_binary(struct density_launch *l, enum density_vmm v, const char *given, char *path,
		       size_t size, struct error *e)
{
	static const char *const defaults[DENSITY_NVMMS] = { NULL, "qemu-system-x86_64", "lkvm" };
	if (v == DENSITY_EMBER && !given) {
		ssize_t n = readlink("/proc/self/exe", path, size - 1);
		if (n < 0)
			return error_errno(e, "cannot resolve /proc/self/exe");
		path[n] = '\0';
		return 0;
	}
	const char *name = given ? given : defaults[v];
	if (!density_find_in_path(name, path, size))
		return error_set(e, "%s: not found%s", l->name, given ? "" : " on PATH");
	return 0;
}

int density_launch_setup(struct density_launch *l, enum density_vmm v,
			 const struct density_options *o, const struct density_guest_files *g,
			 struct error *e)
{
	memset(l, 0, sizeof(*l));
	l->vmm = v;
	l->name = density_vmm_name(v);
	char path[PATH_MAX];
	if (find_binary(l, v, o->vmm_path[v], path, sizeof(path), e) < 0)
		return -1;
	if (v == DENSITY_KVMTOOL && o->guest == DENSITY_GUEST_LINUX && !g->bzimage[0])
		return error_set(e, "kvmtool: no bzImage for the Linux guest");

	struct argv_builder b = { .l = l };
	arg(&b, path);
	if (v == DENSITY_EMBER)
		build_ember(&b, o, g);
	else if (v == DENSITY_QEMU)
		build_qemu(&b, o, g);
	else
		build_kvmtool(&b, o, g);
	if (b.overflow)
		return error_set(e, "%s: command line too long", l->name);
	set_ready_marker(l, o);

	char *version_argv[3] = { l->argv[0], (char *)(v == DENSITY_QEMU ? "--version" : "version"),
				  NULL };
	first_output_line(version_argv, l->version, sizeof(l->version));
	return 0;
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%", *s))
			return true;
	return false;
}

void density_launch_format(const struct density_launch *l, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 0; l->argv[i] && n + 1 < size; i++) {
		const char *a = l->argv[i];
		int w;
		if (needs_quotes(a))
			w = snprintf(buf + n, size - n, "%s'%s'", i ? " " : "", a);
		else
			w = snprintf(buf + n, size - n, "%s%s", i ? " " : "", a);
		if (w < 0 || (size_t)w >= size - n) {
			buf[n] = '\0'; /* no half argument */
			break;
		}
		n += (size_t)w;
	}
}
