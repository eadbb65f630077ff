/* Reading a domain's XML from a libvirt connection (libvirt's public C API: virConnectOpen*,
 * virDomainLookupBy*, virDomainGetXMLDesc). */
#ifndef EMBER_LIBVIRT_CONNECT_H
#define EMBER_LIBVIRT_CONNECT_H

#include "../error.h"

/* The persistent definition (VIR_DOMAIN_XML_INACTIVE: what `virsh dumpxml --inactive` prints)
 * of the domain named `domain` (or with that UUID) on `uri` (NULL: libvirt's default URI).
 * A read-only connection is enough. A domain that libvirt is running is refused: Ember would
 * share its disks and TAPs. Returns malloc'd XML, or NULL with e set. */
char *libvirt_fetch_domain_xml(const char *uri, const char *domain, struct error *e);

#endif
