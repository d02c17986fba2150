/*
 * queue/index.c - the in-memory index: an open-addressing hash table of
 * index entries keyed by message id, with linear probing and
 * backward-shift deletion (no tombstones). The table doubles when it is
 * more than half full, so it costs 8 to 16 bytes of pointers per message.
 */
#include <errno.h>
#include <stdlib.h>

#include "queue/spool_internal.h"

#define INDEX_MIN_CAP 1024

static size_t slot_of(uint64_t id, size_t cap)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

int sl_index_init(struct sl_index *ix)
{
	ix->slots = calloc(INDEX_MIN_CAP, sizeof(*ix->slots));
	if (ix->slots == NULL)
		return -ENOMEM;
	ix->cap = INDEX_MIN_CAP;
	ix->count = 0;
	return 0;
}

/* Free the table and every entry in it. */
void sl_index_free(struct sl_index *ix)
{
	for (size_t i = 0; i < ix->cap; i++)
		sl_msg_free(ix->slots[i]);
	free(ix->slots);
	ix->slots = NULL;
	ix->cap = ix->count = 0;
}

struct sl_spool_msg *sl_index_find(const struct sl_index *ix, uint64_t id)
{
	size_t i = slot_of(id, ix->cap);

	while (ix->slots[i] != NULL) {
		if (ix->slots[i]->pub.id == id)
			return ix->slots[i];
		i = (i + 1) & (ix->cap - 1);
	}
	return NULL;
}

static void place(struct sl_spool_msg **slots, size_t cap, struct sl_spool_msg *msg)
{
	size_t i = slot_of(msg->pub.id, cap);

	while (slots[i] != NULL)
		i = (i + 1) & (cap - 1);
	slots[i] = msg;
}

static int grow(struct sl_index *ix)
{
	size_t cap = ix->cap * 2;
	struct sl_spool_msg **slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slots[i] != NULL)
			place(slots, cap, ix->slots[i]);
	free(ix->slots);
	ix->slots = slots;
	ix->cap = cap;
	return 0;
}

/* Insert msg; the caller has checked that its id is not present. */
int sl_index_insert(struct sl_index *ix, struct sl_spool_msg *msg)
{
	if ((ix->count + 1) * 2 > ix->cap) {
		int err = grow(ix);

		if (err)
			return err;
	}
	place(ix->slots, ix->cap, msg);
	ix->count++;
	return 0;
}

/* Remove the entry for id (without freeing it). */
void sl_index_remove(struct sl_index *ix, uint64_t id)
{
	size_t mask = ix->cap - 1, i = slot_of(id, ix->cap), j;

	while (ix->slots[i] != NULL && ix->slots[i]->pub.id != id)
		i = (i + 1) & mask;
	if (ix->slots[i] == NULL)
		return;
	ix->slots[i] = NULL;
	ix->count--;

	/* Shift later members of the probe run back into the hole. */
	for (j = (i + 1) & mask; ix->slots[j] != NULL; j = (j + 1) & mask) {
		size_t home = slot_of(ix->slots[j]->pub.id, ix->cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			ix->slots[i] = ix->slots[j];
			ix->slots[j] = NULL;
			i = j;
		}
	}
}
