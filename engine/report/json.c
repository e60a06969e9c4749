/* json.c - reading the report tree (json.h). */
#include "engine/report/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/report/report.h"

const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

double jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

bool jhas(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && !json_is_null(v);
}

static int to_sb(const char *buffer, size_t size, void *data)
{
	sb_add(data, buffer, size);
	return 0;
}

#define JW_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY)

void jw_value(struct strbuf *sb, json_t *v)
{
	json_dump_callback(v, to_sb, sb, JW_FLAGS);
}

void jw_string(struct strbuf *sb, const char *s)
{
	/* Printable ASCII without quotes or backslashes is written as it
	 * is; anything else (escapes, UTF-8, invalid bytes) the way jansson
	 * writes it, so the two cannot disagree. */
	const char *p = s;
	while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
		p++;
	if (!*p) {
		sb_addc(sb, '"');
		sb_add(sb, s, (size_t)(p - s));
		sb_addc(sb, '"');
		return;
	}
	json_t *v = json_text(s);
	jw_value(sb, v);
	json_decref(v);
}

void jw_key(struct strbuf *sb, const char *key, bool first)
{
	if (!first)
		sb_addc(sb, ',');
	jw_string(sb, key);
	sb_addc(sb, ':');
}

bool jw_real(struct strbuf *sb, double v)
{
	if (!isfinite(v))
		return false;
	if (v == 0 && !signbit(v)) { /* most of a no-op run's times */
		sb_add(sb, "0.0", 3);
		return true;
	}
	/* jansson's rule: "%.*g", a ".0" when that reads as an integer, no
	 * '+' and no leading zeros in the exponent. */
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%.10g", v);
	if (n < 0 || (size_t)n >= sizeof(buf) - 3) {
		json_t *j = json_real(v);
		jw_value(sb, j);
		json_decref(j);
		return true;
	}
	for (char *c = buf; *c; c++)
		if (*c == ',')
			*c = '.';
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	char *e = strchr(buf, 'e');
	if (e) {
		char *start = e + 1, *end = e + 2;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t)(n - (end - buf)) + 1);
			n -= (int)(end - start);
		}
	}
	sb_add(sb, buf, (size_t)n);
	return true;
}

void jw_int(struct strbuf *sb, long long v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", v);
	sb_add(sb, buf, (size_t)n);
}
