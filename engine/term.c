/* term.c - see term.h. */
#include "engine/term.h"

#include <string.h>

/* Code points above ASCII a terminal acts on or that change how the rest
 * of the line is shown: the C1 controls, the bidirectional marks,
 * embeddings, overrides and isolates, and the line and paragraph
 * separators. */
static bool invisible(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void term_escape(struct strbuf *out, const char *s, size_t n, unsigned flags)
{
	bool lines = flags & TERM_LINES;
	size_t line = out->len; /* where the current line starts in out */
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (lines && c == '\n') {
			sb_addc(out, '\n');
			line = out->len;
			i++;
		} else if (lines && c == '\t') {
			sb_addc(out, '\t');
			i++;
		} else if (lines && c == '\r') {
			/* A terminal overwrites the line: keep what comes after,
			 * unless the \r ends the line (CRLF). */
			if (i + 1 < n && s[i + 1] != '\n' && out->len > line) {
				out->len = line;
				out->buf[out->len] = '\0';
			}
			i++;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			sb_adds(out, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			sb_addf(out, "\\x%02x", c);
			i++;
		} else if (c < 0x80) {
			sb_addc(out, (char)c);
			i++;
		} else {
			unsigned cp;
			size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
			if (!k) {
				sb_addf(out, "\\x%02x", c);
				i++;
			} else if (invisible(cp)) {
				sb_addf(out, "\\u{%x}", cp);
				i += k;
			} else {
				sb_add(out, s + i, k);
				i += k;
			}
		}
	}
}

char *term_clean(const char *s, size_t n)
{
	struct strbuf sb = {0};
	term_escape(&sb, s, n, 0);
	return sb_detach(&sb);
}

char *term_clean_lines(const char *s, size_t n)
{
	struct strbuf sb = {0};
	term_escape(&sb, s, n, TERM_LINES);
	return sb_detach(&sb);
}

static void put(const char *s, FILE *f, unsigned flags)
{
	if (!s)
		return;
	struct strbuf sb = {0};
	term_escape(&sb, s, strlen(s), flags);
	fputs(sb_str(&sb), f);
	sb_release(&sb);
}

void term_fputs(const char *s, FILE *f)
{
	put(s, f, 0);
}

void term_fputs_lines(const char *s, FILE *f)
{
	put(s, f, TERM_LINES);
}
