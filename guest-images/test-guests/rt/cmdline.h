/* "key=value" words in the PVH command line (words are separated by spaces). */
#ifndef RT_CMDLINE_H
#define RT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of the first word "key=...", or NULL; *len gets its length. */
const char *cmdline_value(const char *key, size_t *len);
/* The decimal number of "key=N" (its leading digits; 0 if none), or def without the key. */
uint64_t cmdline_number(const char *key, uint64_t def);
/* Is `item` one of the comma-separated items of "key=a,b,c" (of `def` without the key)? */
bool cmdline_list_has(const char *key, const char *item, const char *def);
/* Is `word` a whole word of the command line? */
bool cmdline_has_word(const char *word);

#endif
