/* A libvirt domain (its XML, as `virsh dumpxml` prints it) turned into Ember's struct vm_config.
 * docs/libvirt.md lists every mapping. Pure: libxml2 only, no libvirt, no files, so unit tests
 * feed it fixtures directly.
 *
 *   parse      XML text -> cfg, plus the list of what Ember cannot honour (each such item is
 *              already left out of cfg: the list says what --libvirt-lenient would ignore);
 *   apply_cli  adds what `ember run` / `ember libvirt run` flags say beyond the XML (the tuning
 *              flags, --api-sock) and checks the whole. */
#ifndef EMBER_LIBVIRT_DOMAIN_H
#define EMBER_LIBVIRT_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "../error.h"
#include "../vm_config.h"
#include "libvirt_issues.h"

/* The namespace of Ember's own elements in a domain's <metadata> (docs/libvirt.md):
 *   <ember:vsock xmlns:ember="urn:ember:libvirt:1" uds="/run/vm1.vsock"/> */
#define LIBVIRT_EMBER_NS "urn:ember:libvirt:1"

/* Larger domain XML is refused unread (real ones are a few KiB). */
#define LIBVIRT_XML_MAX_BYTES (4u << 20)

struct libvirt_domain {
	struct vm_config cfg; /* its strings point into the fields below */
	char *name;           /* <name>, for messages ("" when absent) */
	char *kernel, *initrd, *cmdline, *cpu_affinity;
	struct libvirt_issues issues;
};

struct libvirt_parse_options {
	const char *vsock_uds; /* --vsock-uds: the vsock's host socket (wins over the metadata) */
};

/* Parses one <domain>. Returns 0 with d filled (d->issues may be non-empty), or -1 with e set
 * when the text is not XML, not a domain, or holds a value that is wrong in itself (a memory
 * size that is not a number, a MAC that is not a MAC, no kernel): those are not something to
 * ignore. d is always initialised: call libvirt_domain_free either way. */
int libvirt_domain_parse(struct libvirt_domain *d, const char *xml, size_t len,
			 const struct libvirt_parse_options *opt, struct error *e);
void libvirt_domain_free(struct libvirt_domain *d);

/* Merges the command line's cfg (from cli_parse_run or `ember libvirt run`: tuning flags and
 * --api-sock; its VM fields are defaults) into d->cfg. A tuning flag that the XML also sets is
 * an error naming both. Then checks the topology and --cpu-affinity against the vCPU count. */
int libvirt_domain_apply_cli(struct libvirt_domain *d, const struct vm_config *cli,
			     struct error *e);

#endif
