#include "libvirt_connect.h"

#include <libvirt/libvirt.h>
#include <libxml/xmlerror.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libvirt prints every error to stderr unless told otherwise; Ember reports them itself. */
static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* The same for libxml2, which libvirt's in-process drivers (test:///FILE) parse with. */
static void quiet_xml(void *opaque, const char *fmt, ...)
{
	(void)opaque;
	(void)fmt;
}

/* libvirt's last error as one line: its XML parse errors go on with the offending line and a
 * caret under it, which only make sense on a terminal of their own. */
static int libvirt_error(struct error *e, const char *what)
{
	const char *msg = virGetLastErrorMessage();
	if (!msg || !msg[0])
		msg = "unknown libvirt error";
	return error_set(e, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
}

static virDomainPtr lookup(virConnectPtr conn, const char *domain)
{
	virDomainPtr dom = virDomainLookupByName(conn, domain);
	if (!dom && strlen(domain) == VIR_UUID_STRING_BUFLEN - 1)
		dom = virDomainLookupByUUIDString(conn, domain);
	return dom;
}

/* Defines `xml` on conn (as `virsh define`), then finds `domain` (NULL: the one defined). */
static virDomainPtr define_and_lookup(virConnectPtr conn, const char *xml, const char *source,
				      const char *domain, struct error *e)
{
	virDomainPtr defined = virDomainDefineXML(conn, xml);
	if (!defined) {
		char what[300];
		snprintf(what, sizeof(what), "cannot define a domain from %.200s", source);
		libvirt_error(e, what);
		return NULL;
	}
	if (!domain)
		return defined;
	virDomainFree(defined);
	virDomainPtr dom = lookup(conn, domain);
	if (!dom) {
		char what[300];
		snprintf(what, sizeof(what), "domain '%.200s'", domain);
		libvirt_error(e, what);
	}
	return dom;
}

/* The inactive XML of a domain libvirt is not running. */
static char *inactive_xml(virDomainPtr dom, struct error *e)
{
	int active = virDomainIsActive(dom);
	if (active < 0) {
		libvirt_error(e, "cannot query the domain's state");
		return NULL;
	}
	if (active) {
		const char *name = virDomainGetName(dom);
		error_set(e, "domain '%s' is running under libvirt: Ember would share its disks and "
			  "TAPs; shut it down first", name ? name : "?");
		return NULL;
	}
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	if (!xml)
		libvirt_error(e, "cannot read the domain's XML");
	return xml;
}

char *libvirt_fetch_domain_xml(const char *uri, const char *domain, const char *define_xml,
			       const char *define_source, struct error *e)
{
	virSetErrorFunc(NULL, quiet);
	xmlSetGenericErrorFunc(NULL, quiet_xml);
	/* Defining needs a read-write connection; reading alone does not. */
	virConnectPtr conn = define_xml ? virConnectOpen(uri) : virConnectOpenReadOnly(uri);
	if (!conn) {
		libvirt_error(e, "cannot connect to libvirt");
		return NULL;
	}
	char *xml = NULL;
	virDomainPtr dom;
	if (define_xml)
		dom = define_and_lookup(conn, define_xml, define_source, domain, e);
	else if (!(dom = lookup(conn, domain))) {
		char what[300];
		snprintf(what, sizeof(what), "domain '%.200s'", domain);
		libvirt_error(e, what);
	}
	if (dom) {
		xml = inactive_xml(dom, e);
		virDomainFree(dom);
	}
	virConnectClose(conn);
	return xml;
}
