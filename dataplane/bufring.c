/*
 * dataplane/bufring.c - see bufring.h for the contract.
 *
 * liburing 2.3 (Debian 12) has no io_uring_setup_buf_ring(), so the ring
 * memory is mapped here and registered with io_uring_register_buf_ring().
 */
#include "dataplane/bufring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int sl_bufring_init(struct sl_bufring *b, struct io_uring *ring, unsigned count, unsigned size)
{
	struct io_uring_buf_reg reg = { 0 };
	int rc;

	memset(b, 0, sizeof(*b));
	if (count == 0 || (count & (count - 1)) || count > 32768)
		return -EINVAL;
	b->count = count;
	b->size = size;
	b->ring_bytes = count * sizeof(struct io_uring_buf);
	b->br = mmap(NULL, b->ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	if (b->br == MAP_FAILED) {
		b->br = NULL;
		return -errno;
	}
	b->buffers = aligned_alloc(4096, (size_t)count * size);
	if (!b->buffers) {
		sl_bufring_destroy(b, ring);
		return -ENOMEM;
	}
	reg.ring_addr = (unsigned long)b->br;
	reg.ring_entries = count;
	reg.bgid = SL_BUFRING_GROUP;
	rc = io_uring_register_buf_ring(ring, &reg, 0);
	if (rc < 0) {
		sl_bufring_destroy(b, NULL);
		return rc;
	}
	io_uring_buf_ring_init(b->br);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(b->br, sl_bufring_data(b, i), size, (unsigned short)i,
				      io_uring_buf_ring_mask(count), (int)i);
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;
}

void sl_bufring_destroy(struct sl_bufring *b, struct io_uring *ring)
{
	if (ring && b->br)
		io_uring_unregister_buf_ring(ring, SL_BUFRING_GROUP);
	if (b->br)
		munmap(b->br, b->ring_bytes);
	free(b->buffers);
	memset(b, 0, sizeof(*b));
}
