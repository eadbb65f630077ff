/* Reading a domain's XML from a libvirt connection (libvirt's public C API: virConnectOpen*,
 * virDomainDefineXML, virDomainLookupBy*, virDomainGetXMLDesc). */
#ifndef EMBER_LIBVIRT_CONNECT_H
#define EMBER_LIBVIRT_CONNECT_H

#include "../error.h"

/* The persistent definition (VIR_DOMAIN_XML_INACTIVE: what `virsh dumpxml --inactive` prints)
 * of the domain named `domain` (or with that UUID) on `uri` (NULL: libvirt's default URI).
 * A read-only connection is enough. A domain that libvirt is running is refused: Ember would
 * share its disks and TAPs. Returns malloc'd XML, or NULL with e set.
 *
 * With `define_xml` (the text of --define FILE, named `define_source` in messages), the
 * connection is read-write and that XML is first defined as a persistent domain on it
 * (virDomainDefineXML, as `virsh define`; an existing domain of that name is redefined);
 * `domain` NULL then means the domain just defined. The XML returned is libvirt's normalised
 * form of it, implicit devices added. Ember never undefines it. */
char *libvirt_fetch_domain_xml(const char *uri, const char *domain, const char *define_xml,
			       const char *define_source, struct error *e);

#endif
