/* The VMMs under test: where their binaries and the guest images are, and the command line
 * that starts one idle VM of each. */
#ifndef EMBER_DENSITY_VMM_H
#define EMBER_DENSITY_VMM_H

#include <limits.h>
#include <stddef.h>

#include "density.h"

struct density_guest_files {
	char pvh[PATH_MAX];          /* PVH ELF; ready mark on Ember's boot-timer port */
	char pvh_debugcon[PATH_MAX]; /* the same code; ready mark on port 0xe9 (QEMU) */
	char flat[PATH_MAX];         /* the same code as a real-mode flat binary (kvmtool) */
	char bzimage[PATH_MAX];      /* Linux guest: bzImage for kvmtool */
	char initrd[PATH_MAX];       /* Linux guest: initramfs, "" for none */
	char cmdline[256];           /* Linux guest: kernel command line */
};

/* Finds the guest images of o->guest (or o->kernel): the small guest beside this binary, the
 * Linux guest in $EMBER_CACHE/guest or <source>/.cache/guest. */
int density_guest_find(struct density_guest_files *g, const struct density_options *o,
		       struct error *e);

/* Finds VMM v and builds its command line. Fails (with the reason in e, e.g. "not found") when
 * the VMM cannot run here; the report then lists it as skipped. */
int density_launch_setup(struct density_launch *l, enum density_vmm v,
			 const struct density_options *o, const struct density_guest_files *g,
			 struct error *e);

/* Looks a program up like execvp would (a name with a slash is taken as is). */
bool density_find_in_path(const char *name, char *out, size_t size);

/* The command line as one shell-quoted string. */
void density_launch_format(const struct density_launch *l, char *buf, size_t size);

#endif
