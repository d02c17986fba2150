/*
 * dataplane/pool.c - see pool.h for the contract.
 */
#include "dataplane/pool.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sl_pool_init(struct sl_pool *pool, size_t size, size_t count)
{
	memset(pool, 0, sizeof(*pool));
	pool->size = (size + 63) & ~(size_t)63;
	pool->count = count;
	if (count == 0)
		return 0;
	pool->base = aligned_alloc(64, pool->size * count);
	if (!pool->base)
		return -ENOMEM;
	/* Thread the free list through the objects, lowest address first. */
	for (size_t i = count; i-- > 0;) {
		void **obj = (void **)((char *)pool->base + i * pool->size);

		*obj = pool->free_list;
		pool->free_list = obj;
	}
	return 0;
}

void sl_pool_destroy(struct sl_pool *pool)
{
	free(pool->base);
	memset(pool, 0, sizeof(*pool));
}

void *sl_pool_get(struct sl_pool *pool)
{
	void **obj = pool->free_list;

	if (!obj)
		return NULL;
	pool->free_list = *obj;
	pool->in_use++;
	memset(obj, 0, pool->size);
	return obj;
}

void sl_pool_put(struct sl_pool *pool, void *obj)
{
	uintptr_t off = (uintptr_t)obj - (uintptr_t)pool->base;

	if ((uintptr_t)obj < (uintptr_t)pool->base || off >= pool->size * pool->count ||
	    off % pool->size)
		abort();	/* not from this pool: a programming error */
	*(void **)obj = pool->free_list;
	pool->free_list = obj;
	pool->in_use--;
}
