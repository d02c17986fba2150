/*
 * dataplane/alloc.h - jemalloc integration: per-worker arenas and
 * allocator statistics.
 *
 * sluiced links Debian's libjemalloc, which replaces malloc. Each worker
 * thread calls sl_alloc_thread_arena() at start, so its allocations come
 * from an arena of its own. sl_alloc_stats_log() writes jemalloc's
 * statistics to the log (sluiced does this on SIGUSR1).
 *
 * In the sanitizer build jemalloc is not linked (the sanitizers replace
 * malloc themselves); these functions then do nothing, which
 * sl_alloc_name() reports.
 */
#ifndef SLUICE_DATAPLANE_ALLOC_H
#define SLUICE_DATAPLANE_ALLOC_H

int sl_alloc_thread_arena(unsigned *arena);
void sl_alloc_stats_log(void);
const char *sl_alloc_name(void);

#endif
