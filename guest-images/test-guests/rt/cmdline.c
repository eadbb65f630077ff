/* Command-line words: see cmdline.h. */
#include "cmdline.h"

#include "rt.h"

/* Calls fn on each space-separated word until it returns true; returns that word or NULL. */
static const char *find_word(bool (*fn)(const char *w, size_t n, const void *ctx),
			     const void *ctx, size_t *len)
{
	for (const char *p = rt_cmdline(); *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if (p > w && fn(w, (size_t)(p - w), ctx)) {
			*len = (size_t)(p - w);
			return w;
		}
	}
	return NULL;
}

static bool is_key(const char *w, size_t n, const void *ctx)
{
	const char *key = ctx;
	size_t k = strlen(key);
	return n > k && memcmp(w, key, k) == 0 && w[k] == '=';
}

static bool is_word(const char *w, size_t n, const void *ctx)
{
	const char *word = ctx;
	return n == strlen(word) && memcmp(w, word, n) == 0;
}

const char *cmdline_value(const char *key, size_t *len)
{
	size_t n;
	const char *w = find_word(is_key, key, &n);
	if (!w)
		return NULL;
	size_t k = strlen(key);
	*len = n - k - 1;
	return w + k + 1;
}

uint64_t cmdline_number(const char *key, uint64_t def)
{
	size_t len;
	const char *v = cmdline_value(key, &len);
	if (!v)
		return def;
	uint64_t n = 0;
	for (size_t i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	return n;
}

bool cmdline_list_has(const char *key, const char *item, const char *def)
{
	size_t len;
	const char *v = cmdline_value(key, &len);
	if (!v) {
		v = def;
		len = strlen(def);
	}
	size_t w = strlen(item);
	for (size_t i = 0; i + w <= len; i++)
		if (memcmp(v + i, item, w) == 0 && (i == 0 || v[i - 1] == ',') &&
		    (i + w == len || v[i + w] == ','))
			return true;
	return false;
}

bool cmdline_has_word(const char *word)
{
	size_t n;
	return find_word(is_word, word, &n) != NULL;
}
