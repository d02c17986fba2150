/*
 * crypto/simd/canon_header.h - relaxed header canonicalization with
 * vector byte classes (internal, included once per instruction set after
 * canon_loop.h, with the same classify and compress helpers).
 *
 * Output equals sl_canon_header_relaxed_scalar(). The name is lowercased
 * and loses the whitespace before the colon. The value loses leading and
 * trailing whitespace and line ends. Each run of SP, HTAB, CR and LF
 * between two words becomes one SP when it contains an SP or HTAB, and a
 * bare line end between words joins them. The name part is short and stays
 * scalar. The value goes 64 bytes at a time: classify gives the masks,
 * one loop step per word gap decides which gap keeps a SP, and compress
 * packs the block.
 */
#include <string.h>

struct header_carry {
	int seen;   /* a value word has been written */
	int wsp;    /* the gap open at the block end contains SP or HTAB */
};

/* Keep mask of one value block: words, and one SP per qualifying gap. */
static inline uint64_t CANON_CAT(CANON_PREFIX, _header_gaps)(uint64_t sp, uint64_t gap,
							     struct header_carry *hc, int *space_first)
{
	uint64_t word = ~gap, keep = word, ends = gap & (word >> 1);

	*space_first = hc->seen && hc->wsp && (word & 1);
	while (ends != 0) {
		unsigned e = (unsigned)__builtin_ctzll(ends);
		uint64_t below = word & ((1ULL << e) - 1);
		unsigned s = below ? 64u - (unsigned)__builtin_clzll(below) : 0;
		uint64_t run = (e == 63 ? ~0ULL : (1ULL << (e + 1)) - 1) & ~((1ULL << s) - 1);
		int has_sp = (sp & run) != 0 || (s == 0 && hc->wsp);
		int after_word = s > 0 || hc->seen;

		if (has_sp && after_word)
			keep |= 1ULL << e;
		ends &= ends - 1;
	}

	/* Carry the gap that reaches the block end into the next block. */
	if (gap >> 63) {
		unsigned s = word ? 64u - (unsigned)__builtin_clzll(word) : 0;
		uint64_t run = ~((1ULL << s) - 1);  /* s <= 63 because bit 63 is a gap */

		hc->wsp = (sp & run) != 0 || (s == 0 && hc->wsp);
	} else {
		hc->wsp = 0;
	}
	if (word != 0)
		hc->seen = 1;
	return keep;
}

static void CANON_CAT(CANON_PREFIX, _header_value)(struct sl_sink *out, const uint8_t *v,
						   size_t len)
{
	uint8_t stage[64 + 64 + 1], block[64];
	struct header_carry hc = { 0, 0 };

	for (size_t off = 0; off < len; off += 64) {
		const uint8_t *p = v + off;
		size_t n = len - off < 64 ? len - off : 64;
		uint64_t valid = n == 64 ? ~0ULL : (1ULL << n) - 1;
		uint64_t w, r, l, gap, keep;
		struct canon_plan plan;
		uint8_t *o = stage;
		int space_first;

		if (n < 64) {
			memset(block, 0, sizeof(block));
			memcpy(block, p, n);
			p = block;
		}
		classify(p, &w, &r, &l);
		w &= valid;
		gap = w | r | l | ~valid;  /* bytes past the end act as a gap */
		keep = CANON_CAT(CANON_PREFIX, _header_gaps)(w, gap, &hc, &space_first);
		if (space_first)
			*o++ = ' ';
		plan.keep = keep & valid;
		plan.to_space = keep & gap & valid;
		plan.crlf = 0;
		plan.space = 0;
		if (plan.keep != 0)
			o = compress_header(p, &plan, o);
		sl_sink_put(out, stage, (size_t)(o - stage));
	}
}

static void CANON_CAT(CANON_PREFIX, _header_relaxed)(struct sl_sink *out, const uint8_t *field,
						     size_t len, int crlf)
{
	const uint8_t *colon = memchr(field, ':', len);
	const uint8_t *name_end = colon != NULL ? colon : field + len;
	uint8_t name[64];
	size_t used = 0;

	while (name_end > field && (name_end[-1] == ' ' || name_end[-1] == '\t' ||
				    name_end[-1] == '\r' || name_end[-1] == '\n'))
		name_end--;
	for (const uint8_t *p = field; p < name_end; p++) {
		uint8_t c = *p;

		name[used++] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
		if (used == sizeof(name)) {
			sl_sink_put(out, name, used);
			used = 0;
		}
	}
	if (used > 0)
		sl_sink_put(out, name, used);
	if (colon != NULL) {
		sl_sink_put(out, (const uint8_t *)":", 1);
		CANON_CAT(CANON_PREFIX, _header_value)(out, colon + 1,
							(size_t)(field + len - colon - 1));
	}
	if (crlf)
		sl_sink_crlf(out, 1);
}
