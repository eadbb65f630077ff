/* Runtime-internal: IDT and TSS setup (public trap API is in rt.h). */
#ifndef RT_TRAP_H
#define RT_TRAP_H

/* Builds the TSS descriptor, loads TR and the IDT with gates for the 32 exception vectors.
 * About 300 instructions: CPL0 code is emulated and slow on PVM hosts. */
void trap_init(void);

#endif
