/*
 * dataplane/bufring.h - a provided buffer ring for multishot receive.
 *
 * COUNT buffers of SIZE bytes, registered with the worker's ring as
 * buffer group SL_BUFRING_GROUP. The kernel picks a buffer for each
 * receive completion; the owner hands it back with sl_bufring_recycle()
 * once the data is consumed. COUNT must be a power of two.
 */
#ifndef SLUICE_DATAPLANE_BUFRING_H
#define SLUICE_DATAPLANE_BUFRING_H

#include <liburing.h>
#include <stdint.h>

#define SL_BUFRING_GROUP 0

struct sl_bufring {
	struct io_uring_buf_ring *br;
	uint8_t *buffers;
	unsigned count;
	unsigned size;
	size_t ring_bytes;
};

int sl_bufring_init(struct sl_bufring *b, struct io_uring *ring, unsigned count, unsigned size);
void sl_bufring_destroy(struct sl_bufring *b, struct io_uring *ring);

static inline uint8_t *sl_bufring_data(struct sl_bufring *b, unsigned bid)
{
	return b->buffers + (size_t)bid * b->size;
}

static inline void sl_bufring_recycle(struct sl_bufring *b, unsigned bid)
{
	io_uring_buf_ring_add(b->br, sl_bufring_data(b, bid), b->size, (unsigned short)bid,
			      io_uring_buf_ring_mask(b->count), 0);
	io_uring_buf_ring_advance(b->br, 1);
}

#endif
