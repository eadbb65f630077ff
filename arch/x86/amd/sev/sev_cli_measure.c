/* `ember sev measure`: the launch digest (or SEV LAUNCH_MEASURE blob) a guest owner expects. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sev_cli_internal.h"
#include "sev_codec.h"
#include "sev_digest.h"
#include "sev_file.h"
#include "sev_hashes.h"
#include "sev_launch_plan.h"
#include "sev_vmsa.h"

#define KERNEL_MAX (1ull << 30) /* kernel and initrd files are read whole */
#define DEFAULT_VCPU_TYPE "EPYC-v4"

enum output_format { OUTPUT_HEX, OUTPUT_BASE64 };

struct measure_opts {
	bool mode_set;
	enum sev_mode mode;
	const char *firmware, *kernel, *initrd, *append;
	uint64_t vcpus;
	const char *vcpu_type;
	bool vcpu_sig_set, features_set, format_set, show_plan;
	uint64_t vcpu_sig, guest_features;
	enum output_format format;
	bool launch_blob;
	const char *tik, *nonce;
	bool major_set, minor_set, build_set, policy_set;
	uint64_t api_major, api_minor, build, policy;
};

static void print_measure_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember sev measure --mode sev|sev-es|snp --firmware OVMF.fd [options]\n"
		"\n"
		"Prints the launch digest the AMD secure processor will compute for this guest\n"
		"(SHA-256 for SEV/SEV-ES, SHA-384 for SNP), for a QEMU-style VMM.\n"
		"\n"
		"  --mode MODE              sev, sev-es or snp\n"
		"  --firmware FILE          the OVMF image (mapped to end at 4 GiB)\n"
		"  --kernel FILE            measured direct boot: hash this kernel ...\n"
		"  --initrd FILE            ... this initrd (default: empty) ...\n"
		"  --append CMDLINE         ... and this command line (default: empty)\n"
		"  --vcpus N                SEV-ES/SNP: number of vCPUs (default 1)\n"
		"  --vcpu-type MODEL        EPYC[-vN], EPYC-Rome, EPYC-Milan, EPYC-Genoa "
		"(default " DEFAULT_VCPU_TYPE ")\n"
		"  --vcpu-sig SIG           CPUID(1).EAX instead of a model, e.g. 0x00a00f11\n"
		"  --vmm-type TYPE          only 'qemu' (its vCPU reset state and launch order)\n"
		"  --guest-features HEX     the VMSA's SEV_FEATURES (default 0x1 for snp, 0 for "
		"sev-es)\n"
		"  --output-format FORMAT   hex (default) or base64\n"
		"  --show-plan              list what is measured, in order, before the digest\n"
		"\n"
		"SEV/SEV-ES LAUNCH_MEASURE blob (HMAC-SHA-256 || nonce, base64 by default):\n"
		"  --launch-blob --tik FILE --api-major N --api-minor N --build N --policy N\n"
		"  --nonce BASE64\n");
}

enum {
	OPT_MODE = 256, OPT_FIRMWARE, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_VCPUS,
	OPT_VCPU_TYPE, OPT_VCPU_SIG, OPT_VMM_TYPE, OPT_FEATURES, OPT_FORMAT, OPT_SHOW_PLAN,
	OPT_BLOB, OPT_TIK, OPT_MAJOR, OPT_MINOR, OPT_BUILD, OPT_POLICY, OPT_NONCE, OPT_HELP,
};

static const struct option measure_options[] = {
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "firmware", required_argument, NULL, OPT_FIRMWARE },
	{ "ovmf", required_argument, NULL, OPT_FIRMWARE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "vcpu-type", required_argument, NULL, OPT_VCPU_TYPE },
	{ "vcpu-sig", required_argument, NULL, OPT_VCPU_SIG },
	{ "vmm-type", required_argument, NULL, OPT_VMM_TYPE },
	{ "guest-features", required_argument, NULL, OPT_FEATURES },
	{ "output-format", required_argument, NULL, OPT_FORMAT },
	{ "show-plan", no_argument, NULL, OPT_SHOW_PLAN },
	{ "launch-blob", no_argument, NULL, OPT_BLOB },
	{ "tik", required_argument, NULL, OPT_TIK },
	{ "api-major", required_argument, NULL, OPT_MAJOR },
	{ "api-minor", required_argument, NULL, OPT_MINOR },
	{ "build", required_argument, NULL, OPT_BUILD },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "nonce", required_argument, NULL, OPT_NONCE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int parse_format(const char *text, enum output_format *f, struct error *e)
{
	if (strcasecmp(text, "hex") == 0)
		*f = OUTPUT_HEX;
	else if (strcasecmp(text, "base64") == 0)
		*f = OUTPUT_BASE64;
	else
		return error_set(e, "--output-format: '%s' is not hex or base64", text);
	return 0;
}

/* One option; returns 0, -1 on a bad value. */
static int take_option(struct measure_opts *o, int opt, const char *arg, struct error *e)
{
	switch (opt) {
	case OPT_MODE:
		o->mode_set = true;
		return sev_mode_parse(arg, &o->mode, e) < 0 ? error_prefix(e, "--mode") : 0;
	case OPT_FIRMWARE: o->firmware = arg; return 0;
	case OPT_KERNEL: o->kernel = arg; return 0;
	case OPT_INITRD: o->initrd = arg; return 0;
	case OPT_APPEND: o->append = arg; return 0;
	case OPT_VCPUS: return sev_cli_parse_u64(arg, SEV_PLAN_MAX_VCPUS, "--vcpus", &o->vcpus, e);
	case OPT_VCPU_TYPE: o->vcpu_type = arg; return 0;
	case OPT_VCPU_SIG:
		o->vcpu_sig_set = true;
		return sev_cli_parse_u64(arg, UINT32_MAX, "--vcpu-sig", &o->vcpu_sig, e);
	case OPT_VMM_TYPE:
		if (strcasecmp(arg, "qemu") != 0)
			return error_set(e, "--vmm-type: '%s' is not supported (only qemu)", arg);
		return 0;
	case OPT_FEATURES:
		o->features_set = true;
		return sev_cli_parse_u64(arg, UINT64_MAX, "--guest-features", &o->guest_features,
					 e);
	case OPT_FORMAT: o->format_set = true; return parse_format(arg, &o->format, e);
	case OPT_SHOW_PLAN: o->show_plan = true; return 0;
	case OPT_BLOB: o->launch_blob = true; return 0;
	case OPT_TIK: o->tik = arg; return 0;
	case OPT_NONCE: o->nonce = arg; return 0;
	case OPT_MAJOR:
		o->major_set = true;
		return sev_cli_parse_u64(arg, 255, "--api-major", &o->api_major, e);
	case OPT_MINOR:
		o->minor_set = true;
		return sev_cli_parse_u64(arg, 255, "--api-minor", &o->api_minor, e);
	case OPT_BUILD:
		o->build_set = true;
		return sev_cli_parse_u64(arg, 255, "--build", &o->build, e);
	case OPT_POLICY:
		o->policy_set = true;
		return sev_cli_parse_u64(arg, UINT32_MAX, "--policy", &o->policy, e);
	}
	return error_set(e, "internal: unhandled option %d", opt);
}

static int check_options(struct measure_opts *o, struct error *e)
{
	if (!o->mode_set)
		return error_set(e, "--mode is required (sev, sev-es or snp)");
	if (!o->firmware)
		return error_set(e, "--firmware is required");
	if (!o->kernel && (o->initrd || o->append))
		return error_set(e, "--initrd and --append need --kernel (measured direct boot)");
	if (o->vcpus == 0)
		return error_set(e, "--vcpus: 0 is out of range (1-%d)", SEV_PLAN_MAX_VCPUS);
	if (o->mode == SEV_MODE_SEV && (o->features_set || o->vcpus != 1))
		return error_set(e, "--guest-features and --vcpus do not apply to --mode sev");
	if (!o->features_set)
		o->guest_features = o->mode == SEV_MODE_SNP ? SEV_FEATURE_SNP_ACTIVE : 0;
	if (o->mode == SEV_MODE_SNP && !(o->guest_features & SEV_FEATURE_SNP_ACTIVE))
		return error_set(e, "--guest-features 0x%llx lacks SNPActive (bit 0)",
				 (unsigned long long)o->guest_features);
	if (!o->vcpu_sig_set) {
		uint32_t sig = 0;
		if (sev_vcpu_model_find(o->vcpu_type, &sig, e) < 0)
			return error_prefix(e, "--vcpu-type");
		o->vcpu_sig = sig;
	}
	if (!o->launch_blob)
		return 0;
	if (o->mode == SEV_MODE_SNP)
		return error_set(e, "--launch-blob is for sev and sev-es (SNP guests get "
				 "attestation reports)");
	if (!o->tik || !o->nonce || !o->major_set || !o->minor_set || !o->build_set ||
	    !o->policy_set)
		return error_set(e, "--launch-blob needs --tik, --nonce, --api-major, --api-minor, "
				 "--build and --policy");
	return 0;
}

/* Returns 0 parsed, 1 help shown, -1 usage error. */
static int parse_measure_args(int argc, char **argv, struct measure_opts *o, struct error *e)
{
	*o = (struct measure_opts){ .vcpus = 1, .vcpu_type = DEFAULT_VCPU_TYPE };
	optind = 0; /* glibc: restart scanning (other subcommands may have used getopt) */
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "+", measure_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			print_measure_usage(stdout);
			return 1;
		}
		if (opt == '?') {
			if (optopt)
				return error_set(e, "option '%s' needs a value", argv[optind - 1]);
			return error_set(e, "unknown option '%s'", argv[optind - 1]);
		}
		if (take_option(o, opt, optarg, e) < 0)
			return -1;
	}
	if (optind < argc)
		return error_set(e, "unexpected argument '%s'", argv[optind]);
	return check_options(o, e);
}

/* Files read for one measurement; freed together. */
struct measure_inputs {
	uint8_t *firmware, *kernel, *initrd;
	size_t firmware_len, kernel_len, initrd_len;
};

static void free_inputs(struct measure_inputs *in)
{
	free(in->firmware);
	free(in->kernel);
	free(in->initrd);
}

static int load_inputs(const struct measure_opts *o, struct measure_inputs *in, struct error *e)
{
	*in = (struct measure_inputs){ 0 };
	if (sev_read_file(o->firmware, SEV_OVMF_MAX_SIZE, &in->firmware, &in->firmware_len, e) < 0)
		return -1;
	if (o->kernel &&
	    sev_read_file(o->kernel, KERNEL_MAX, &in->kernel, &in->kernel_len, e) < 0)
		return -1;
	if (o->initrd &&
	    sev_read_file(o->initrd, KERNEL_MAX, &in->initrd, &in->initrd_len, e) < 0)
		return -1;
	return 0;
}

static void fill_plan_input(const struct measure_opts *o, const struct measure_inputs *files,
			    struct sev_plan_input *in)
{
	*in = (struct sev_plan_input){
		.mode = o->mode,
		.firmware = files->firmware,
		.firmware_len = files->firmware_len,
		.vcpus = (unsigned)o->vcpus,
	};
	in->cpuid_sig = (uint32_t)o->vcpu_sig;
	in->guest_features = o->guest_features;
	if (o->kernel) {
		in->kernel_hashes = true;
		sev_hashes_build(in->hash_table, files->kernel, files->kernel_len, files->initrd,
				 files->initrd_len, o->append);
	}
}

static void print_plan(const struct sev_launch_plan *plan)
{
	printf("# launch plan (%s): measured in this order\n", sev_mode_name(plan->mode));
	for (size_t i = 0; i < plan->n_regions; i++) {
		const struct sev_plan_region *r = &plan->regions[i];
		printf("region %zu: gpa 0x%09llx len 0x%llx %-8s %s\n", i,
		       (unsigned long long)r->gpa, (unsigned long long)r->len,
		       sev_page_type_name(r->type), r->what);
	}
	for (unsigned i = 0; i < plan->n_vmsas; i++)
		printf("vmsa %u: vcpu %u (%s)\n", i, i, i == 0 ? "BSP, reset vector" :
		       "AP, SEV-ES reset block");
}

static void print_bytes(const uint8_t *bytes, size_t len, enum output_format format)
{
	char text[2 * 64 + 1];
	if (format == OUTPUT_HEX)
		sev_hex_encode(bytes, len, text);
	else
		sev_base64_encode(bytes, len, text);
	printf("%s\n", text);
}

static int make_launch_blob(const struct measure_opts *o, const uint8_t *digest,
			    uint8_t blob[SEV_LAUNCH_BLOB_LEN], struct error *e)
{
	struct sev_launch_blob_input in = {
		.api_major = (uint8_t)o->api_major,
		.api_minor = (uint8_t)o->api_minor,
		.build = (uint8_t)o->build,
		.policy = (uint32_t)o->policy,
	};
	memcpy(in.digest, digest, SEV_SEV_DIGEST_LEN);
	uint8_t *tik = NULL;
	size_t tik_len = 0;
	if (sev_read_file(o->tik, 4096, &tik, &tik_len, e) < 0)
		return -1;
	if (tik_len != SEV_TIK_LEN) {
		free(tik);
		return error_set(e, "%s: a TIK is %d bytes, not %zu", o->tik, SEV_TIK_LEN, tik_len);
	}
	memcpy(in.tik, tik, SEV_TIK_LEN);
	free(tik);
	size_t nonce_len = 0;
	if (sev_base64_decode(o->nonce, in.nonce, sizeof(in.nonce), &nonce_len, e) < 0)
		return error_prefix(e, "--nonce");
	if (nonce_len != SEV_NONCE_LEN)
		return error_set(e, "--nonce: %zu bytes; the nonce is %d", nonce_len,
				 SEV_NONCE_LEN);
	return sev_launch_blob(&in, blob, e);
}

static int run_measure(const struct measure_opts *o, struct error *e)
{
	struct measure_inputs files;
	struct sev_plan_input in;
	struct sev_launch_plan plan;
	memset(&plan, 0, sizeof(plan));
	int rc = -1;
	if (load_inputs(o, &files, e) < 0)
		goto out;
	fill_plan_input(o, &files, &in);
	if (sev_plan_build(&plan, &in, e) < 0)
		goto out;
	uint8_t digest[SEV_DIGEST_MAX];
	size_t digest_len = 0;
	if (sev_digest_compute(&plan, digest, &digest_len, e) < 0)
		goto out;
	if (o->show_plan)
		print_plan(&plan);
	if (o->launch_blob) {
		uint8_t blob[SEV_LAUNCH_BLOB_LEN];
		if (make_launch_blob(o, digest, blob, e) < 0)
			goto out;
		print_bytes(blob, sizeof(blob), o->format_set ? o->format : OUTPUT_BASE64);
	} else {
		print_bytes(digest, digest_len, o->format);
	}
	rc = 0;
out:
	sev_plan_free(&plan);
	free_inputs(&files);
	return rc;
}

int sev_cli_measure(int argc, char **argv)
{
	struct measure_opts o;
	struct error e = { "" };
	int parsed = parse_measure_args(argc, argv, &o, &e);
	if (parsed > 0)
		return SEV_EXIT_OK;
	if (parsed < 0) {
		fprintf(stderr, "ember sev measure: %s\n", e.msg);
		return SEV_EXIT_USAGE;
	}
	if (run_measure(&o, &e) < 0) {
		fprintf(stderr, "ember sev measure: %s\n", e.msg);
		return SEV_EXIT_FAILED;
	}
	return SEV_EXIT_OK;
}
