/*
 * common/log.c - see log.h for the contract.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int sl_log_level = SL_LOG_INFO;

static const char *log_program = "sluice";
static int log_fd = STDERR_FILENO;
static sl_log_writer_fn *log_writer;

static const char *const level_names[] = {
	[SL_LOG_ERR] = "error",
	[SL_LOG_WARN] = "warning",
	[SL_LOG_INFO] = "info",
	[SL_LOG_DEBUG] = "debug",
};

void sl_log_init(const char *program, enum sl_log_level level)
{
	log_program = program;
	sl_log_level = level;
}

int sl_log_level_parse(const char *name, enum sl_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum sl_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Open PATH for appending and make it the log; the old file is closed. */
int sl_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void sl_log_vwrite(enum sl_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t len;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %s %s[%d]: ",
		     (long)(tv.tv_usec / 1000), level_names[level], log_program,
		     (int)getpid());
	if (n > 0)
		len += (size_t)n;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len - 1 ? (size_t)n : sizeof(line) - len - 2;
	line[len++] = '\n';

	if (log_writer)
		log_writer(line, len);
	else
		sl_log_write_raw(line, len);
}

void sl_log_set_writer(sl_log_writer_fn *writer)
{
	log_writer = writer;
}

void sl_log_write_raw(const char *text, size_t len)
{
	/* One write per line keeps lines from several threads whole. */
	while (write(log_fd, text, len) < 0 && errno == EINTR)
		;
}

void sl_log_write(enum sl_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_log_vwrite(level, fmt, ap);
	va_end(ap);
}
