/* Ember's process log, configured like Firecracker's logger (PUT /logger, "logger" in a config
 * file, --log-path/--level): a level, a destination (a file or named pipe; standard error until
 * configured), and optional level and source-location tags. One line per message:
 *
 *     2026-08-01T12:00:00.123456789 [anonymous-instance:api:INFO:api_actions.c:42] message
 *
 * Thread-safe; a destination that cannot take a line (a full pipe) loses that line rather than
 * blocking the VMM. */
#ifndef EMBER_LOGGER_H
#define EMBER_LOGGER_H

#include <stdbool.h>

#include "../error.h"

enum log_level {
	LOG_LEVEL_OFF,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

struct logger_settings {
	const char *path;        /* NULL: standard error */
	enum log_level level;
	bool show_level;
	bool show_origin;
	const char *module;      /* only messages whose module starts with this; NULL: all */
};

/* Replaces the current settings; opens (creating) path for appending. */
int logger_configure(const struct logger_settings *s, struct error *e);
void logger_set_instance_id(const char *id);
/* Case-insensitive Firecracker level names: Error, Warning (or Warn), Info, Debug, Trace, Off. */
int logger_parse_level(const char *name, enum log_level *out);
const char *logger_level_name(enum log_level level);
bool logger_enabled(enum log_level level);

void logger_log(enum log_level level, const char *module, const char *file, int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_error(module, ...) logger_log(LOG_LEVEL_ERROR, module, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(module, ...) logger_log(LOG_LEVEL_WARNING, module, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(module, ...) logger_log(LOG_LEVEL_INFO, module, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(module, ...) logger_log(LOG_LEVEL_DEBUG, module, __FILE__, __LINE__, __VA_ARGS__)

#endif
