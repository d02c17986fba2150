/*
 * common/log.h - leveled logging for every sluice program.
 *
 * One line per event on stderr (or a file given to sl_log_open), in the
 * form "TIME LEVEL PROGRAM[PID]: message", where messages use key=value
 * pairs for ids ("queue_id=... to=... status=..."). The level is checked
 * before any formatting, so a disabled debug call costs one comparison.
 *
 * sl_log_open() reopens the file (call it again on SIGHUP). Writes are one
 * write(2) per line, so lines from several threads never interleave.
 * Never pass a secret (key material, passwords) to these functions.
 */
#ifndef SLUICE_COMMON_LOG_H
#define SLUICE_COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum sl_log_level {
	SL_LOG_ERR = 0,
	SL_LOG_WARN,
	SL_LOG_INFO,
	SL_LOG_DEBUG,
};

extern int sl_log_level;

void sl_log_init(const char *program, enum sl_log_level level);
int sl_log_open(const char *path);
int sl_log_level_parse(const char *name, enum sl_log_level *level);
void sl_log_write(enum sl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sl_log_vwrite(enum sl_log_level level, const char *fmt, va_list ap);

/*
 * Hand formatted lines (newline included) to WRITER instead of writing
 * them at once, for example to a queue drained by a service thread that
 * calls sl_log_write_raw(); NULL restores direct writes. Set it before
 * other threads log.
 */
typedef void sl_log_writer_fn(const char *line, size_t len);
void sl_log_set_writer(sl_log_writer_fn *writer);
void sl_log_write_raw(const char *text, size_t len);

#define sl_log(level, ...)                                   \
	do {                                                 \
		if ((int)(level) <= sl_log_level)            \
			sl_log_write((level), __VA_ARGS__);  \
	} while (0)

#define sl_err(...)   sl_log(SL_LOG_ERR, __VA_ARGS__)
#define sl_warn(...)  sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_info(...)  sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif
