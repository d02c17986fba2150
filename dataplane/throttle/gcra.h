/*
 * dataplane/throttle/gcra.h - lock-free rate and concurrency limits.
 *
 * GCRA (generic cell rate algorithm) is a token bucket written as one
 * 64-bit "theoretical arrival time" (TAT) per key. A message may go when
 * TAT <= now + tolerance; taking it moves TAT to max(TAT, now) + interval.
 * Several worker threads share one struct sl_gcra and update it with a
 * compare-and-swap loop, so no thread ever takes a lock or waits for
 * another. Times are nanoseconds on any monotonic clock the caller picks;
 * the functions never read a clock themselves, which keeps them testable.
 *
 * sl_limit_acquire()/sl_limit_release() count concurrent users of a key
 * (open connections, messages on one connection) against a maximum with
 * the same CAS discipline.
 *
 * Limits: rates slower than one message per 2^64 ns do not exist in
 * practice; a period of 0 or count of 0 means "no limit" (sl_gcra_params
 * returns interval 0 and sl_gcra_take always allows).
 */
#ifndef SLUICE_DATAPLANE_THROTTLE_GCRA_H
#define SLUICE_DATAPLANE_THROTTLE_GCRA_H

#include <stdatomic.h>
#include <stdint.h>

#define SL_NS_PER_SEC 1000000000ULL

struct sl_gcra {
	_Atomic uint64_t tat;	/* theoretical arrival time, ns */
};

/* Emission interval and burst tolerance for COUNT messages per PERIOD_S
 * seconds with bursts of up to BURST messages (BURST 0 is taken as 1). */
struct sl_gcra_params {
	uint64_t interval_ns;
	uint64_t tolerance_ns;
};

struct sl_gcra_params sl_gcra_params(uint32_t count, uint32_t period_s,
				     uint32_t burst);

/*
 * Take one message slot at time NOW. Returns 0 when the message may go,
 * or -EAGAIN with *wait_ns set to the time until the next slot opens.
 */
int sl_gcra_take(struct sl_gcra *gcra, const struct sl_gcra_params *params,
		 uint64_t now_ns, uint64_t *wait_ns);

/* Returns 0 and increments *count when it is below MAX (MAX 0 means
 * unlimited), or -EAGAIN and leaves it unchanged. */
int sl_limit_acquire(_Atomic uint32_t *count, uint32_t max);
void sl_limit_release(_Atomic uint32_t *count);

#endif
