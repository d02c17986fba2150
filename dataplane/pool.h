/*
 * dataplane/pool.h - fixed-size object pools made at start.
 *
 * A pool holds COUNT objects of SIZE bytes in one allocation, aligned to
 * 64 bytes, and hands them out from a free list in O(1). A pool belongs
 * to one worker thread and has no locks. sl_pool_get() returns NULL when
 * the pool is empty: pools never grow, so their size is the limit (for
 * example the number of sessions a worker serves).
 */
#ifndef SLUICE_DATAPLANE_POOL_H
#define SLUICE_DATAPLANE_POOL_H

#include <stddef.h>

struct sl_pool {
	void *base;
	void *free_list;
	size_t size;	/* object size rounded up to 64 bytes */
	size_t count;
	size_t in_use;
};

int sl_pool_init(struct sl_pool *pool, size_t size, size_t count);
void sl_pool_destroy(struct sl_pool *pool);
void *sl_pool_get(struct sl_pool *pool);	/* zeroed object or NULL */
void sl_pool_put(struct sl_pool *pool, void *obj);

#endif
