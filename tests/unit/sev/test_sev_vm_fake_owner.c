/* The confidential VM against the fake KVM, when things go wrong, and the guest owner's files:
 * a secret that arrives through a FIFO after the measurement, bad secret files, refused inputs,
 * KVM refusing the VM type, a failing vCPU hook; each stops with one line and nothing leaks. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sev_codec.h"
#include "sev_fake_build.h"
#include "sev_owner.h"

static struct fake_build t;
static struct error e;

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void sev_with_session(void)
{
	fake_build_setup(&t, SEV_MODE_SEV, 1, 64ull << 20);
	static const uint8_t pdh[4] = { 1 }, session[4] = { 2 };
	t.in.owner_pdh = pdh;
	t.in.owner_pdh_len = sizeof(pdh);
	t.in.owner_session = session;
	t.in.owner_session_len = sizeof(session);
	memset(&e, 0, sizeof(e));
}

/* The owner's side, as a thread: waits for the measurement, answers through the FIFO. */
struct owner {
	char measurement[128], fifo[128];
	bool saw_measurement;
};

static void *owner_thread(void *arg)
{
	struct owner *o = arg;
	/* Opening the FIFO for writing waits for Ember to open it for reading, which it does only
	 * once the measurement is written. */
	FILE *f = fopen(o->fifo, "w");
	if (!f)
		return NULL;
	FILE *m = fopen(o->measurement, "r");
	char line[256];
	while (m && fgets(line, sizeof(line), m))
		o->saw_measurement |= strncmp(line, "measurement: ", 13) == 0;
	if (m)
		fclose(m);
	fputs("header: AAAAAA==\nsecret: AQIDBA==\ngpa: 0x80b000\n", f);
	fclose(f);
	return NULL;
}

Test(sev_vm_fake_owner, secret_through_a_fifo_after_the_measurement)
{
	sev_with_session();
	struct owner o = { 0 };
	snprintf(o.measurement, sizeof(o.measurement), "%s", fake_build_path(&t, "measure"));
	snprintf(o.fifo, sizeof(o.fifo), "%s", fake_build_path(&t, "secret.fifo"));
	cr_assert_eq(mkfifo(o.fifo, 0600), 0);
	t.in.measurement_out = o.measurement;
	t.in.secret_in = o.fifo;
	pthread_t thread;
	cr_assert_eq(pthread_create(&thread, NULL, owner_thread, &o), 0);
	int rc = fake_build_run(&t, &e);
	pthread_join(thread, NULL);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert(o.saw_measurement, "the secret was asked for before the measurement was out");
	cr_assert_geq(fake_kvm_find(&t.kvm, "sev LAUNCH_SECRET hdr_len=4 guest=ram+0x80b000 "
					    "guest_len=4 trans_len=4", 0), 0);
	cr_assert_gt(fake_kvm_find(&t.kvm, "sev LAUNCH_FINISH", 0),
		     fake_kvm_find(&t.kvm, "sev LAUNCH_SECRET", 0));
	fake_build_teardown(&t);
}

static void expect_secret_refused(const char *text, const char *want)
{
	sev_with_session();
	char measurement[128], secret[128];
	snprintf(measurement, sizeof(measurement), "%s", fake_build_path(&t, "measure"));
	snprintf(secret, sizeof(secret), "%s", fake_build_path(&t, "secret"));
	write_text(secret, text);
	t.in.measurement_out = measurement;
	t.in.secret_in = secret;
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_neq(strstr(e.msg, want), NULL, "got '%s', want '%s'", e.msg, want);
	cr_assert_eq(strncmp(e.msg, "--sev-secret: ", 14), 0, "%s", e.msg);
	cr_assert_eq(strchr(e.msg, '\n'), NULL);
	cr_assert_not(t.kvm.finished, "a launch without its secret must not finish");
	cr_assert_eq(t.kvm.secrets_injected, 0);
	fake_build_teardown(&t);
}

Test(sev_vm_fake_owner, bad_secret_files)
{
	expect_secret_refused("header: AAAA\n", "needs both 'header:' and 'secret:'");
	expect_secret_refused("header: AAAA\nsecret: A!AA\n", "line 2: secret: bad base64");
	expect_secret_refused("header AAAA\n", "line 1: expected 'key: value'");
	expect_secret_refused("header: AAAA\nsecret: AAAA\nkey: x\n", "line 3: unknown key 'key'");
	expect_secret_refused("header: AAAA\nsecret: AAAA\ngpa: -1\n", "gpa: '-1' is not an");
	expect_secret_refused("header: AAAA\nheader: AAAA\n", "header given twice");
	/* Outside guest RAM: the owner's mistake, named before the PSP sees it. */
	expect_secret_refused("header: AAAA\nsecret: AAAA\ngpa: 0xd0000000\n",
			      "not inside guest memory");
}

Test(sev_vm_fake_owner, secret_larger_than_the_firmware_area)
{
	char *big = malloc(8192), *text = malloc(16384);
	memset(big, 0x5a, 8192);
	sev_base64_encode((const uint8_t *)big, 8192, text + 100);
	char line[128];
	snprintf(line, sizeof(line), "header: AAAA\nsecret: ");
	size_t n = strlen(line);
	memmove(text + n, text + 100, strlen(text + 100) + 1);
	memcpy(text, line, n);
	expect_secret_refused(text, "8192 bytes do not fit the firmware's 4096-byte secret area");
	free(big);
	free(text);
}

Test(sev_vm_fake_owner, measurement_file_cannot_be_written)
{
	sev_with_session();
	t.in.measurement_out = "/nonexistent-dir/measurement";
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_str_eq(e.msg, "--sev-measurement-out: /nonexistent-dir/measurement: No such file "
				"or directory");
	cr_assert_not(t.kvm.finished);
	fake_build_teardown(&t);
}

Test(sev_vm_fake_owner, refused_inputs)
{
	fake_build_setup(&t, SEV_MODE_SNP, 1, 64ull << 20);
	t.in.secret_in = "/dev/null";
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_neq(strstr(e.msg, "SNP has no launch session or LAUNCH_SECRET"), NULL, "%s",
		      e.msg);
	cr_assert_eq(t.kvm.n_log, 0, "refused before KVM_CREATE_VM");
	fake_build_teardown(&t);

	sev_with_session();
	t.in.owner_session = NULL;
	t.in.secret_in = "/dev/null";
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_neq(strstr(e.msg, "needs the owner's launch session"), NULL, "%s", e.msg);
	fake_build_teardown(&t);

	fake_build_setup(&t, SEV_MODE_SNP, 1, 64ull << 20);
	t.in.guest_features = 0x20;
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_str_eq(e.msg, "guest features 0x20 lack SNPActive (bit 0)");
	fake_build_teardown(&t);

	fake_build_setup(&t, SEV_MODE_SEV_ES, 1, 64ull << 20);
	t.in.guest_features = 0x1;
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_neq(strstr(e.msg, "SNPActive (bit 0), which is SNP's"), NULL, "%s", e.msg);
	fake_build_teardown(&t);

	fake_build_setup(&t, SEV_MODE_SEV, 1, 64ull << 20);
	t.in.guest_features = 0x20;
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_neq(strstr(e.msg, "SEV has no VMSA"), NULL, "%s", e.msg);
	fake_build_teardown(&t);
}

Test(sev_vm_fake_owner, kvm_without_the_vm_type)
{
	fake_build_setup(&t, SEV_MODE_SNP, 1, 64ull << 20);
	t.kvm.vm_types = 1 << 0 | 1 << 2;
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_str_eq(e.msg, "KVM_CREATE_VM (type 4, snp): Invalid argument");
	cr_assert_eq(t.kvm.n_log, 1);
	fake_build_teardown(&t);
}

/* A vCPU that cannot be created after the memory is in: the guest_memfds and /dev/sev close. */
Test(sev_vm_fake_owner, failing_vcpu_hook_leaks_nothing)
{
	fake_build_setup(&t, SEV_MODE_SNP, 2, 64ull << 20);
	t.fail_vcpus = true;
	cr_assert_eq(fake_build_run(&t, &e), -1);
	cr_assert_str_eq(e.msg, "vCPU 1: no more vCPUs today");
	cr_assert_eq(fake_kvm_count(&t.kvm, "sev SNP_LAUNCH_START"), 0);
	sev_vm_destroy(&t.vm);
	cr_assert_eq(fake_kvm_count(&t.kvm, "close 200"), 1);
	cr_assert_eq(fake_kvm_count(&t.kvm, "close 201"), 1);
	cr_assert_eq(fake_kvm_count(&t.kvm, "close 100"), 1);
	fake_build_teardown(&t); /* destroys again: harmless */
	cr_assert_eq(fake_kvm_count(&t.kvm, "close"), 3);
}

Test(sev_vm_fake_owner, base64_files)
{
	char path[] = "/tmp/ember-sev-b64-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("AQID\nBAUG\n", f); /* sevctl-style, with line breaks */
	fclose(f);
	uint8_t *data;
	size_t len;
	cr_assert_eq(sev_owner_read_base64(path, &data, &len, &e), 0, "%s", e.msg);
	cr_assert_eq(len, 6);
	cr_assert_eq(data[5], 6);
	free(data);
	f = fopen(path, "w");
	fputs("not base64!\n", f);
	fclose(f);
	cr_assert_eq(sev_owner_read_base64(path, &data, &len, &e), -1);
	cr_assert_eq(strncmp(e.msg, path, strlen(path)), 0, "%s", e.msg);
	f = fopen(path, "w");
	fclose(f);
	cr_assert_eq(sev_owner_read_base64(path, &data, &len, &e), -1);
	cr_assert_neq(strstr(e.msg, "no base64 text"), NULL, "%s", e.msg);
	unlink(path);
	cr_assert_eq(sev_owner_read_base64("/nonexistent", &data, &len, &e), -1);
	cr_assert_str_eq(e.msg, "/nonexistent: No such file or directory");
}
