/*
 * queue/spool_internal.h - on-disk record format and index entries shared
 * by the spool's source files and its unit tests. Not for other modules.
 *
 * Segment file: a sequence of records, each padded to 8 bytes. The first
 * record of every segment is a SEGMENT record carrying the format version.
 * All integers are little-endian (the byte order of x86-64 and arm64; the
 * code stores them with memcpy and does not swap).
 *
 *   record header, 32 bytes
 *     0  u32 magic        SL_REC_MAGIC
 *     4  u32 header_crc   CRC32C of bytes 8 .. 32 + meta_len
 *     8  u32 meta_len     bytes of metadata after the header
 *    12  u32 body_crc     CRC32C of the body (0 when body_len is 0)
 *    16  u64 body_len     message bytes after the metadata
 *    24  u8  type         enum sl_rec_type
 *    25  u8[7] zero
 *   metadata (meta_len bytes), body (body_len bytes), zero padding
 *
 *   SEGMENT metadata: u32 version, u32 shard, u32 seq, u32 zero,
 *                     u64 next_id, i64 created (unix seconds)
 *   MESSAGE metadata: u64 id, i64 arrival, u32 flags, u16 rcpt_count,
 *                     u16 sender_len, u16 envid_len (0xffff: none),
 *                     u16 zero, bodyhash[SL_SPOOL_BODYHASH_SIZE], sender,
 *                     envid, then per recipient: u16 address_len,
 *                     u16 orcpt_len (0xffff: none), u8 notify, u8 state,
 *                     u16 attempts, i64 next_attempt, address, orcpt
 *   STATE metadata:   u64 id, u32 rcpt, u8 state, u8 zero, u16 attempts,
 *                     i64 next_attempt
 *
 * A MESSAGE record for an id already seen supersedes the earlier copy
 * with all its state records (a rewrite carries the current states).
 */
#ifndef SLUICE_QUEUE_SPOOL_INTERNAL_H
#define SLUICE_QUEUE_SPOOL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "queue/spool.h"

#define SL_REC_MAGIC 0x52534c53u	/* "SLSR" */
#define SL_SPOOL_FORMAT_VERSION 1u
#define SL_REC_HEADER_SIZE 32u
#define SL_REC_SEGMENT_META 32u
#define SL_REC_STATE_META 24u
#define SL_REC_MESSAGE_FIXED (28u + SL_SPOOL_BODYHASH_SIZE)
#define SL_REC_RCPT_FIXED 16u
#define SL_NO_STRING 0xffffu

/*
 * Segment summary NAME.idx, written once a segment is sealed (the shard
 * moved on to the next one): the headers and metadata of its records
 * without the bodies, so that recovery reads far less. It is only a
 * cache. Recovery uses it when its checksums match and it covers the
 * whole segment file, and scans the segment otherwise.
 *
 *   header, 32 bytes: u32 SL_SUMMARY_MAGIC, u32 version, u32 seq,
 *     u32 record count, u64 segment bytes covered, u32 CRC32C of the
 *     entries, u32 CRC32C of the first 28 header bytes
 *   per record: u32 offset in the segment, u32 zero, the record header
 *     and metadata, zero padding to 8 bytes
 */
#define SL_SUMMARY_MAGIC 0x58494c53u	/* "SLIX" */
#define SL_SUMMARY_HEADER_SIZE 32u
#define SL_SUMMARY_ENTRY_FIXED 8u

enum sl_rec_type {
	SL_REC_SEGMENT = 1,
	SL_REC_MESSAGE = 2,
	SL_REC_STATE = 3,
};

struct sl_rec_header {
	uint32_t magic;
	uint32_t header_crc;
	uint32_t meta_len;
	uint32_t body_crc;
	uint64_t body_len;
	uint8_t type;
	uint8_t zero[7];
};

struct sl_rec_segment {
	uint32_t version;
	uint32_t shard;
	uint32_t seq;
	uint64_t next_id;
	int64_t created;
};

struct sl_rec_state {
	uint64_t id;
	uint32_t rcpt;
	uint8_t state;
	uint16_t attempts;
	int64_t next_attempt;
};

/* Index entry: the public view first, then where the newest copy lives. */
struct sl_spool_msg {
	struct sl_spool_message pub;
	uint32_t seg;		/* segment sequence of the newest copy */
	uint32_t first_seg;	/* oldest segment that may hold a copy */
	uint32_t rec_off;	/* record offset in that segment */
	uint32_t rec_len;	/* padded record length */
	uint32_t body_off;	/* body offset within the record */
	uint32_t body_crc;
	uint8_t finalizing;	/* last recipient final, record not flushed yet */
	uint8_t rewriting;	/* a rewrite is in flight */
};

static inline uint64_t sl_align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* CRC32C (Castagnoli) of len bytes, continuing from crc (0 to start). */
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len);

/* Record header and metadata encoding. The encoders write into buf, which
 * has room for SL_REC_HEADER_SIZE plus the metadata size they report. */
size_t sl_rec_message_meta_size(const struct sl_spool_message *m);
void sl_rec_encode_message(uint8_t *buf, const struct sl_spool_message *m,
			   uint64_t body_len, uint32_t body_crc);
void sl_rec_encode_segment(uint8_t *buf, const struct sl_rec_segment *s);
void sl_rec_encode_state(uint8_t *buf, const struct sl_rec_state *s);

/* Check magic, lengths against avail bytes and the header CRC. Returns 0,
 * -EAGAIN when avail is too short for the whole record, -EBADMSG. */
int sl_rec_check(const uint8_t *rec, uint64_t avail, struct sl_rec_header *h);
/* Like sl_rec_check() for the header and metadata only (no body). */
int sl_rec_check_meta(const uint8_t *rec, uint64_t avail, struct sl_rec_header *h);
int sl_rec_decode_segment(const uint8_t *meta, uint32_t len, struct sl_rec_segment *s);
int sl_rec_decode_state(const uint8_t *meta, uint32_t len, struct sl_rec_state *s);
/* Decode MESSAGE metadata into a new index entry (one allocation). */
int sl_rec_decode_message(const uint8_t *meta, uint32_t len, uint64_t body_len,
			  struct sl_spool_msg **out);

/* Build an index entry from an envelope (one allocation); -EINVAL when
 * the envelope is invalid. */
int sl_msg_from_envelope(const struct sl_spool_envelope *env, uint64_t id,
			 uint64_t body_len, struct sl_spool_msg **out);
size_t sl_msg_bytes(const struct sl_spool_msg *msg);
void sl_msg_free(struct sl_spool_msg *msg);
int sl_msg_set_state(struct sl_spool_msg *msg, unsigned rcpt, uint8_t state,
		     uint16_t attempts, int64_t next_attempt);

/* Open-addressing hash table of index entries keyed by id. */
struct sl_index {
	struct sl_spool_msg **slots;
	size_t cap;		/* power of two */
	size_t count;
};

int sl_index_init(struct sl_index *ix);
void sl_index_free(struct sl_index *ix);
struct sl_spool_msg *sl_index_find(const struct sl_index *ix, uint64_t id);
int sl_index_insert(struct sl_index *ix, struct sl_spool_msg *msg);
void sl_index_remove(struct sl_index *ix, uint64_t id);

#endif
