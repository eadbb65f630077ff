#include "logger.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

static struct {
	pthread_mutex_t lock;
	int fd;                   /* -1: standard error */
	enum log_level level;
	bool show_level, show_origin;
	char module[64];
	char instance_id[65];
} logger = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.level = LOG_LEVEL_WARNING,
	.instance_id = "anonymous-instance",
};

static const char *const level_names[] = {
	[LOG_LEVEL_OFF] = "Off",       [LOG_LEVEL_ERROR] = "Error", [LOG_LEVEL_WARNING] = "Warning",
	[LOG_LEVEL_INFO] = "Info",     [LOG_LEVEL_DEBUG] = "Debug", [LOG_LEVEL_TRACE] = "Trace",
};

static const char *const level_tags[] = {
	[LOG_LEVEL_OFF] = "OFF",   [LOG_LEVEL_ERROR] = "ERROR", [LOG_LEVEL_WARNING] = "WARN",
	[LOG_LEVEL_INFO] = "INFO", [LOG_LEVEL_DEBUG] = "DEBUG", [LOG_LEVEL_TRACE] = "TRACE",
};

int logger_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warn") == 0) {
		*out = LOG_LEVEL_WARNING;
		return 0;
	}
	return -1;
}

const char *logger_level_name(enum log_level level)
{
	return (unsigned)level < sizeof(level_names) / sizeof(level_names[0]) ? level_names[level]
									       : "Info";
}

int logger_configure(const struct logger_settings *s, struct error *e)
{
	int fd = -1;
	if (s->path) {
		/* Non-blocking: a named pipe nobody reads must not stall the VMM. */
		fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
		if (fd < 0)
			return error_errno(e, "cannot open the log file '%s'", s->path);
	}
	pthread_mutex_lock(&logger.lock);
	if (logger.fd >= 0)
		close(logger.fd);
	logger.fd = fd;
	logger.level = s->level;
	logger.show_level = s->show_level;
	logger.show_origin = s->show_origin;
	snprintf(logger.module, sizeof(logger.module), "%s", s->module ? s->module : "");
	pthread_mutex_unlock(&logger.lock);
	return 0;
}

void logger_set_instance_id(const char *id)
{
	pthread_mutex_lock(&logger.lock);
	snprintf(logger.instance_id, sizeof(logger.instance_id), "%s", id);
	pthread_mutex_unlock(&logger.lock);
}

bool logger_enabled(enum log_level level)
{
	pthread_mutex_lock(&logger.lock);
	bool on = level != LOG_LEVEL_OFF && level <= logger.level;
	pthread_mutex_unlock(&logger.lock);
	return on;
}

static int format_prefix(char *buf, size_t size, enum log_level level, const char *module,
			 const char *file, int line)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = (int)strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, size - (size_t)n, ".%09ld [%s:%s", ts.tv_nsec, logger.instance_id,
		      module);
	if (logger.show_level && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, ":%s", level_tags[level]);
	if (logger.show_origin && (size_t)n < size) {
		const char *base = strrchr(file, '/');
		n += snprintf(buf + n, size - (size_t)n, ":%s:%d", base ? base + 1 : file, line);
	}
	if ((size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, "] ");
	return (size_t)n < size ? n : (int)size - 1;
}

void logger_log(enum log_level level, const char *module, const char *file, int line,
		const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	pthread_mutex_lock(&logger.lock);
	if (level == LOG_LEVEL_OFF || level > logger.level ||
	    strncmp(module, logger.module, strlen(logger.module)) != 0) {
		pthread_mutex_unlock(&logger.lock);
		return;
	}
	int n = format_prefix(buf, sizeof(buf) - 1, level, module, file, line);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - 1 - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	/* One write per line keeps lines whole when several processes share a pipe. */
	if (write(logger.fd >= 0 ? logger.fd : STDERR_FILENO, buf, len) < 0) {
		/* EAGAIN on a full pipe: the line is lost, the VMM goes on */
	}
	pthread_mutex_unlock(&logger.lock);
}
