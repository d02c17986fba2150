/*
 * bench/sluice-bench/svg.c - a plain SVG 1.1 bar chart, written without
 * any library.
 *
 * Layout: a title, a legend with one colour per series (report), then one
 * panel per metric group. Each panel has its own scale (the largest value
 * in it fills the bar width), one row per metric and one horizontal bar
 * per series, labelled with its value. Missing values (< 0) draw no bar
 * and the text "n/a".
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "bench/sluice-bench/bench.h"

#define WIDTH 900
#define LABEL_W 190
#define BAR_W 560
#define BAR_H 14
#define TITLE_H 24

static const char *const colours[SL_SVG_MAX_SERIES] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
};

const char *sl_svg_escape(const char *text, char *buf, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return "";
	for (; text && *text && o + 7 < cap; text++) {
		const char *rep = NULL;

		switch (*text) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		}
		if (rep) {
			memcpy(buf + o, rep, strlen(rep));
			o += strlen(rep);
		} else if ((unsigned char)*text >= 0x20 || *text == '\t') {
			buf[o++] = *text;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* "12345", "42.50" or "0.0105": integers from 100, four significant
 * digits below 1 so that small costs stay readable. */
static void format_value(double v, char *buf, size_t cap)
{
	if (v < 0)
		snprintf(buf, cap, "n/a");
	else if (v >= 100)
		snprintf(buf, cap, "%.0f", v);
	else if (v >= 1)
		snprintf(buf, cap, "%.2f", v);
	else
		snprintf(buf, cap, "%.4g", v);
}

static unsigned panel_height(const struct sl_svg_panel *p, unsigned series)
{
	return TITLE_H + p->row_count * (series * (BAR_H + 2) + 6) + 10;
}

static void write_panel(FILE *out, const struct sl_svg_panel *p, unsigned series, unsigned y)
{
	char text[512], value[64];
	double max = 0;

	for (unsigned r = 0; r < p->row_count; r++)
		for (unsigned s = 0; s < series; s++)
			max = fmax(max, p->rows[r].values[s]);
	fprintf(out, "<text x=\"10\" y=\"%u\" font-weight=\"bold\">%s</text>\n", y + 16,
		sl_svg_escape(p->title, text, sizeof(text)));
	y += TITLE_H;
	for (unsigned r = 0; r < p->row_count; r++) {
		const struct sl_svg_row *row = &p->rows[r];
		unsigned row_h = series * (BAR_H + 2) + 6;

		fprintf(out, "<text x=\"%d\" y=\"%u\" text-anchor=\"end\">%s</text>\n", LABEL_W - 8,
			y + row_h / 2 + 4, sl_svg_escape(row->label, text, sizeof(text)));
		for (unsigned s = 0; s < series; s++) {
			double v = row->values[s];
			double w = v > 0 && max > 0 ? v / max * BAR_W : 0;
			unsigned by = y + s * (BAR_H + 2);

			format_value(v, value, sizeof(value));
			if (w > 0)
				fprintf(out, "<rect x=\"%d\" y=\"%u\" width=\"%.1f\" height=\"%d\" "
					"fill=\"%s\"/>\n", LABEL_W, by, w, BAR_H, colours[s]);
			fprintf(out, "<text x=\"%.1f\" y=\"%u\">%s</text>\n", LABEL_W + w + 4,
				by + BAR_H - 3, value);
		}
		y += row_h;
	}
}

int sl_svg_write(FILE *out, const char *title, const char *const *series_names,
		 unsigned series_count, const struct sl_svg_panel *panels, unsigned panel_count)
{
	char text[512];
	unsigned height = 40 + 20 * series_count + 10, y;

	if (series_count == 0 || series_count > SL_SVG_MAX_SERIES)
		return -EINVAL;
	for (unsigned i = 0; i < panel_count; i++)
		height += panel_height(&panels[i], series_count);

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%u\" viewBox=\"0 0 %d %u\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", WIDTH, height, WIDTH,
		height);
	fprintf(out, "<text x=\"10\" y=\"24\" font-size=\"18\" font-weight=\"bold\">%s</text>\n",
		sl_svg_escape(title, text, sizeof(text)));
	y = 40;
	for (unsigned s = 0; s < series_count; s++, y += 20) {
		fprintf(out, "<rect x=\"10\" y=\"%u\" width=\"14\" height=\"14\" fill=\"%s\"/>\n", y,
			colours[s]);
		fprintf(out, "<text x=\"30\" y=\"%u\">%s</text>\n", y + 12,
			sl_svg_escape(series_names[s] ? series_names[s] : "?", text, sizeof(text)));
	}
	y += 10;
	for (unsigned i = 0; i < panel_count; i++) {
		write_panel(out, &panels[i], series_count, y);
		y += panel_height(&panels[i], series_count);
	}
	fprintf(out, "</svg>\n");
	return ferror(out) ? -EIO : 0;
}
