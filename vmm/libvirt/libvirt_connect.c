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

static int libvirt_error(struct error *e, const char *what)
{
	const char *msg = virGetLastErrorMessage();
	return error_set(e, "%s: %s", what, msg && msg[0] ? msg : "unknown libvirt error");
}

static virDomainPtr lookup(virConnectPtr conn, const char *domain)
{
	virDomainPtr dom = virDomainLookupByName(conn, domain);
	if (!dom && strlen(domain) == VIR_UUID_STRING_BUFLEN - 1)
		dom = virDomainLookupByUUIDString(conn, domain);
	return dom;
}

char *libvirt_fetch_domain_xml(const char *uri, const char *domain, struct error *e)
{
	virSetErrorFunc(NULL, quiet);
	xmlSetGenericErrorFunc(NULL, quiet_xml);
	virConnectPtr conn = virConnectOpenReadOnly(uri);
	if (!conn) {
		libvirt_error(e, "cannot connect to libvirt");
		return NULL;
	}
	char *xml = NULL;
	virDomainPtr dom = lookup(conn, domain);
	if (!dom) {
		char what[300];
		snprintf(what, sizeof(what), "domain '%.200s'", domain);
		libvirt_error(e, what);
		goto out;
	}
	int active = virDomainIsActive(dom);
	if (active < 0) {
		libvirt_error(e, "cannot query the domain's state");
	} else if (active) {
		error_set(e, "domain '%s' is running under libvirt: Ember would share its disks and "
			  "TAPs; shut it down first", domain);
	} else {
		xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
		if (!xml)
			libvirt_error(e, "cannot read the domain's XML");
	}
	virDomainFree(dom);
out:
	virConnectClose(conn);
	return xml;
}
