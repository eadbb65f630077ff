#include "vm_runner.h"

#include <stdio.h>

#include "error.h"
#include "vm.h"

int vm_run_config(const struct vm_config *cfg, uint64_t start_ns)
{
	static struct vm vm; /* large; lives for the whole process */
	struct error e = { "" };
	int status;
	if (vm_create(&vm, cfg, start_ns, &e) < 0) {
		fprintf(stderr, "ember: %s\n", e.msg);
		status = EXIT_RUNTIME_ERROR;
	} else {
		status = vm_run(&vm, &e);
		if (status < 0) {
			fprintf(stderr, "ember: %s\n", e.msg);
			status = EXIT_RUNTIME_ERROR;
		}
	}
	vm_destroy(&vm);
	return status;
}
