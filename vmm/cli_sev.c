#include "cli_sev.h"

#include <errno.h>
#include <stdlib.h>

#define SEV_FEATURE_SNP_ACTIVE 0x1ull /* the VMSA's SEV_FEATURES bit 0 (arch/x86/amd/sev) */

const char cli_sev_help[] =
	"  --sev-features F  the VMSAs' SEV_FEATURES (default 0x1 for snp, 0 for sev-es; 0x21\n"
	"                    adds DebugSwap)\n"
	"  --sev-dh-cert F   sev, sev-es: the guest owner's PDH certificate (base64, as\n"
	"                    `sevctl session` writes it); with --sev-session\n"
	"  --sev-session F   sev, sev-es: the owner's launch session blob (base64)\n"
	"  --sev-measurement-out F  write the launch measurement (sev, sev-es) or the launch\n"
	"                    digest (snp) and the values `ember sev measure` needs to FILE\n"
	"  --sev-secret F    sev, sev-es: after the measurement is written, read the owner's\n"
	"                    LAUNCH_SECRET from F (a FIFO waits for the owner): lines\n"
	"                    'header: BASE64', 'secret: BASE64', optionally 'gpa: ADDR'\n";

static int parse_features(const char *text, uint64_t *out, struct error *e)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 0);
	if (errno || end == text || *end != '\0' || text[0] == '-' || v == 0)
		return error_set(e, "--sev-features: '%s' is not a feature mask (for example 0x21)",
				 text);
	*out = v;
	return 0;
}

int cli_sev_apply(int opt, const char *arg, struct vm_config *cfg, struct error *e)
{
	struct vm_sev_owner *o = &cfg->sev_owner;
	switch (opt) {
	case OPT_SEV_FEATURES:
		return parse_features(arg, &o->features, e);
	case OPT_SEV_DH_CERT:
		o->dh_cert = arg;
		return 0;
	case OPT_SEV_SESSION:
		o->session = arg;
		return 0;
	case OPT_SEV_MEASUREMENT_OUT:
		o->measurement_out = arg;
		return 0;
	case OPT_SEV_SECRET:
		o->secret = arg;
		return 0;
	}
	return error_set(e, "internal: unhandled option %d", opt);
}

static const char *first_given(const struct vm_sev_owner *o)
{
	if (o->features)
		return "--sev-features";
	if (o->dh_cert)
		return "--sev-dh-cert";
	if (o->session)
		return "--sev-session";
	if (o->measurement_out)
		return "--sev-measurement-out";
	return o->secret ? "--sev-secret" : NULL;
}

int cli_sev_check(const struct vm_config *cfg, struct error *e)
{
	const struct vm_sev_owner *o = &cfg->sev_owner;
	const char *flag = first_given(o);
	if (cfg->sev == VM_SEV_OFF)
		return flag ? error_set(e, "%s needs --sev", flag) : 0;
	if (cfg->api_sock_path)
		return error_set(e, "--sev cannot be combined with --api-sock: the API does not start "
				 "confidential guests yet (docs/sev.md)");
	if (cfg->sev == VM_SEV_SNP && (o->dh_cert || o->session || o->secret))
		return error_set(e, "%s: SNP has no launch session or LAUNCH_SECRET (the guest "
				 "attests with a report; docs/sev.md)",
				 o->dh_cert ? "--sev-dh-cert" : o->session ? "--sev-session"
									   : "--sev-secret");
	if (!o->dh_cert != !o->session)
		return error_set(e, "%s needs %s: the two come from one `sevctl session`",
				 o->dh_cert ? "--sev-dh-cert" : "--sev-session",
				 o->dh_cert ? "--sev-session" : "--sev-dh-cert");
	if (o->secret && !o->session)
		return error_set(e, "--sev-secret needs --sev-dh-cert and --sev-session (their keys "
				 "wrap the secret)");
	if (o->secret && !o->measurement_out)
		return error_set(e, "--sev-secret needs --sev-measurement-out (the owner answers "
				 "what it says)");
	if (cfg->sev == VM_SEV_SEV && o->features)
		return error_set(e, "--sev-features: SEV has no VMSA (use sev-es or snp)");
	if (cfg->sev == VM_SEV_ES && (o->features & SEV_FEATURE_SNP_ACTIVE))
		return error_set(e, "--sev-features 0x%llx: bit 0 (SNPActive) is for snp",
				 (unsigned long long)o->features);
	if (cfg->sev == VM_SEV_SNP && !(o->features & SEV_FEATURE_SNP_ACTIVE) && o->features)
		return error_set(e, "--sev-features 0x%llx lacks SNPActive (bit 0)",
				 (unsigned long long)o->features);
	return 0;
}
