/*
 * dataplane/alloc.c - see alloc.h for the contract.
 */
#include "dataplane/alloc.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

#ifdef SL_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>

int sl_alloc_thread_arena(unsigned *arena)
{
	size_t len = sizeof(*arena);
	int rc;

	rc = mallctl("arenas.create", arena, &len, NULL, 0);
	if (rc)
		return -rc;
	rc = mallctl("thread.arena", NULL, NULL, arena, sizeof(*arena));
	return -rc;
}

/* jemalloc calls this with pieces of text; each line becomes one log line. */
static void stats_line(void *arg, const char *text)
{
	const char *end;

	(void)arg;
	while (*text) {
		end = strchr(text, '\n');
		if (!end)
			end = text + strlen(text);
		if (end > text)
			sl_info("malloc_stats: %.*s", (int)(end - text), text);
		text = *end ? end + 1 : end;
	}
}

void sl_alloc_stats_log(void)
{
	/* "b" and "l" leave out the per-size-class tables, which would add
	 * hundreds of lines to the log. */
	malloc_stats_print(stats_line, NULL, "bl");
}

const char *sl_alloc_name(void)
{
	return "jemalloc";
}

#else

int sl_alloc_thread_arena(unsigned *arena)
{
	*arena = 0;
	return 0;
}

void sl_alloc_stats_log(void)
{
	sl_info("malloc_stats: not available, this build uses the system allocator");
}

const char *sl_alloc_name(void)
{
	return "system";
}

#endif
