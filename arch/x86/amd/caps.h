/* `ember caps`: what this host offers a VMM (CPU, SVM/NPT, SEV family, KVM capabilities, PVM). */
#ifndef EMBER_AMD_CAPS_H
#define EMBER_AMD_CAPS_H

#include <stdbool.h>

/* True when /dev/kvm is PVM, i.e. guest supervisor mode is emulated (sys/module/kvm_pvm). */
bool caps_supervisor_emulated(void);

/* The `ember caps [--json]` subcommand. Returns the process exit status. */
int caps_main(int argc, char **argv);

#endif
