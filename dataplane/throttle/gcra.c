/*
 * dataplane/throttle/gcra.c - GCRA rate limit and concurrency counters.
 *
 * See gcra.h for the contract. Every update is a relaxed
 * compare-and-swap: the counters guard no other memory, so no ordering
 * with other loads and stores is needed.
 */
#include "dataplane/throttle/gcra.h"

#include <errno.h>

struct sl_gcra_params sl_gcra_params(uint32_t count, uint32_t period_s,
				     uint32_t burst)
{
	struct sl_gcra_params p = { 0, 0 };

	if (count == 0 || period_s == 0)
		return p;
	if (burst == 0)
		burst = 1;
	p.interval_ns = (uint64_t)period_s * SL_NS_PER_SEC / count;
	if (p.interval_ns == 0)
		p.interval_ns = 1;
	p.tolerance_ns = p.interval_ns * (burst - 1);
	return p;
}

int sl_gcra_take(struct sl_gcra *gcra, const struct sl_gcra_params *params,
		 uint64_t now_ns, uint64_t *wait_ns)
{
	uint64_t tat, next;

	if (params->interval_ns == 0)
		return 0;

	tat = atomic_load_explicit(&gcra->tat, memory_order_relaxed);
	for (;;) {
		if (tat > now_ns + params->tolerance_ns) {
			if (wait_ns)
				*wait_ns = tat - params->tolerance_ns - now_ns;
			return -EAGAIN;
		}
		next = (tat > now_ns ? tat : now_ns) + params->interval_ns;
		/* On failure TAT is reloaded with the winner's value. */
		if (atomic_compare_exchange_weak_explicit(
			    &gcra->tat, &tat, next, memory_order_relaxed,
			    memory_order_relaxed))
			return 0;
	}
}

int sl_limit_acquire(_Atomic uint32_t *count, uint32_t max)
{
	uint32_t cur = atomic_load_explicit(count, memory_order_relaxed);

	for (;;) {
		if (max != 0 && cur >= max)
			return -EAGAIN;
		if (atomic_compare_exchange_weak_explicit(
			    count, &cur, cur + 1, memory_order_relaxed,
			    memory_order_relaxed))
			return 0;
	}
}

void sl_limit_release(_Atomic uint32_t *count)
{
	atomic_fetch_sub_explicit(count, 1, memory_order_relaxed);
}
