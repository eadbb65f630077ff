/* Firecracker's JSON objects as Ember reads them: strict bodies, machine-config rules, boot
 * source checks, config files, and the vm_config they produce. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/api/fc_config_file.h"
#include "vmm/api/fc_json.h"
#include "vmm/api/fc_resources.h"

static struct json_object *parse(const char *text)
{
	struct error e;
	struct json_object *o = fc_json_parse(text, strlen(text), &e);
	cr_assert_not_null(o, "%s: %s", text, e.msg);
	return o;
}

static int put_machine(struct fc_resources *r, const char *text, struct error *e)
{
	struct json_object *o = parse(text);
	int rc = fc_put_machine_config(r, o, e);
	json_object_put(o);
	return rc;
}

Test(fc_json, rejects_what_is_not_one_json_document)
{
	const char *bad[] = { "", "{", "{} {}", "{\"a\": 1,}", "{'a': 1}", "{\"a\": 1} x",
			      "/* c */ {}", "null", "{\"a\": \"\\xff\"}", "[1,]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct error e = { "" };
		struct json_object *o = fc_json_parse(bad[i], strlen(bad[i]), &e);
		cr_assert_null(o, "accepted '%s'", bad[i]);
		cr_assert_neq(e.msg[0], '\0');
	}
	json_object_put(parse("  {\"a\": [1, 2]}\r\n"));
}

Test(fc_resources, machine_config_put_requires_both_fields_and_resets_the_rest)
{
	struct fc_resources r;
	struct error e;
	fc_resources_init(&r);
	cr_assert_eq(r.machine.vcpu_count, 1);
	cr_assert_eq(r.machine.mem_size_mib, 128);
	cr_assert_eq(put_machine(&r, "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}", &e),
		     0, "%s", e.msg);
	cr_assert(r.machine.smt);
	cr_assert_eq(put_machine(&r, "{\"vcpu_count\": 4}", &e), -1);
	cr_assert(strstr(e.msg, "mem_size_mib"), "%s", e.msg);
	cr_assert_eq(r.machine.vcpu_count, 2, "a failed PUT changes nothing");
	cr_assert_eq(put_machine(&r, "{\"vcpu_count\": 4, \"mem_size_mib\": 512}", &e), 0);
	cr_assert_not(r.machine.smt, "PUT resets smt to its default");

	struct json_object *patch = parse("{\"mem_size_mib\": 64}");
	cr_assert_eq(fc_patch_machine_config(&r, patch, &e), 0, "%s", e.msg);
	json_object_put(patch);
	cr_assert_eq(r.machine.vcpu_count, 4, "PATCH keeps what it does not name");
	cr_assert_eq(r.machine.mem_size_mib, 64);
	fc_resources_free(&r);
}

Test(fc_resources, machine_config_refuses_what_ember_cannot_do)
{
	struct fc_resources r;
	struct error e;
	fc_resources_init(&r);
	const char *bad[][2] = {
		{ "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", "vcpu_count" },
		{ "{\"vcpu_count\": 1025, \"mem_size_mib\": 128}", "vcpu_count" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 1}", "mem_size_mib" },
		{ "{\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}", "even" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": true}", "track_dirty_pages" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"2M\"}", "2M" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}", "huge_pages" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T2A\"}", "T2A" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"gdb_socket_path\": \"/x\"}", "gdb_socket_path" },
		{ "{\"vcpu_count\": true, \"mem_size_mib\": 128}", "vcpu_count" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(put_machine(&r, bad[i][0], &e), -1, "accepted %s", bad[i][0]);
		cr_assert(strstr(e.msg, bad[i][1]), "'%s' does not name %s", e.msg, bad[i][1]);
	}
	cr_assert_eq(put_machine(&r, "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": false, "
				 "\"huge_pages\": \"Transparent\", \"cpu_template\": \"None\", "
				 "\"track_dirty_pages\": false}", &e), 0, "%s", e.msg);
	fc_resources_free(&r);
}

Test(fc_resources, boot_source_and_the_vm_config_it_makes)
{
	struct fc_resources r;
	struct vm_config cfg;
	struct error e;
	fc_resources_init(&r);
	cr_assert_eq(fc_resources_vm_config(&r, &cfg, &e), -1, "no boot source yet");
	struct json_object *bad = parse("{\"kernel_image_path\": \"/nonexistent/kernel\"}");
	cr_assert_eq(fc_put_boot_source(&r, bad, &e), -1);
	cr_assert(strstr(e.msg, "/nonexistent/kernel"), "%s", e.msg);
	json_object_put(bad);
	struct json_object *ok = parse("{\"kernel_image_path\": \"/proc/self/exe\", "
				       "\"boot_args\": \"console=ttyS0 quiet\", \"initrd_path\": null}");
	cr_assert_eq(fc_put_boot_source(&r, ok, &e), 0, "%s", e.msg);
	json_object_put(ok);
	cr_assert_eq(put_machine(&r, "{\"vcpu_count\": 2, \"mem_size_mib\": 300, \"smt\": true}", &e), 0);
	cr_assert_eq(fc_resources_vm_config(&r, &cfg, &e), 0, "%s", e.msg);
	cr_assert_str_eq(cfg.kernel_path, "/proc/self/exe");
	cr_assert_null(cfg.initrd_path);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 quiet");
	cr_assert_eq(cfg.ncpus, 2);
	cr_assert_eq(cfg.mem_size, 300ULL << 20);
	cr_assert(cfg.smt);
	fc_resources_free(&r);
}

static int apply_doc(const char *text, struct error *e)
{
	struct fc_resources r;
	struct metrics m;
	fc_resources_init(&r);
	metrics_init(&m);
	struct json_object *doc = parse(text);
	int rc = fc_config_apply(doc, &r, &m, "test", e);
	json_object_put(doc);
	metrics_close(&m);
	fc_resources_free(&r);
	return rc;
}

Test(fc_config_file, sections_and_what_is_not_supported)
{
	struct error e;
	cr_assert_eq(apply_doc("{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
			       "\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256}, "
			       "\"drives\": [], \"network-interfaces\": [], \"balloon\": null, "
			       "\"vsock\": null, \"logger\": null, \"metrics\": null}", &e), 0, "%s", e.msg);
	const char *bad[][2] = {
		{ "{}", "boot-source" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, \"bogus\": 1}", "bogus" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
		  "\"machine-config\": {\"mem_size_mib\": 256}}", "vcpu_count" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
		  "\"pmem\": [{\"id\": \"p0\", \"path_on_host\": \"/x\"}]}", "pmem" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
		  "\"mmds-config\": {\"network_interfaces\": [\"eth0\"]}}", "mmds-config" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
		  "\"drives\": [{\"drive_id\": \"rootfs\"}]}", "drives[0]: missing field" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, "
		  "\"vsock\": {\"guest_cid\": 3}}", "vsock: missing field 'uds_path'" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"}, \"drives\": {}}", "drives" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(apply_doc(bad[i][0], &e), -1, "accepted %s", bad[i][0]);
		cr_assert(strstr(e.msg, bad[i][1]), "'%s' does not name %s", e.msg, bad[i][1]);
	}
}

Test(fc_config_file, unreadable_files_are_named)
{
	struct fc_resources r;
	struct metrics m;
	struct error e;
	fc_resources_init(&r);
	metrics_init(&m);
	cr_assert_eq(fc_config_file_load("/nonexistent.json", &r, &m, "t", &e), -1);
	cr_assert(strstr(e.msg, "/nonexistent.json"), "%s", e.msg);
	cr_assert_eq(fc_config_file_load("/proc", &r, &m, "t", &e), -1);
	cr_assert(strstr(e.msg, "regular file"), "%s", e.msg);
	fc_resources_free(&r);
}
