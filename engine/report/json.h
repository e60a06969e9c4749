/* json.h - reading the report tree, and writing JSON text without one.
 *
 * The formats that read the JSON report (the terminal summary, HTML,
 * trace, JUnit, juggle compare) look its fields up with these. A missing
 * field reads as empty, so a reader never checks for NULL. The strings
 * returned belong to the tree.
 */
#ifndef JUGGLE_REPORT_JSON_H
#define JUGGLE_REPORT_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "engine/util.h"

/* The string at o[key], or "" when it is missing or not a string. */
const char *jstr(json_t *o, const char *key);
/* The number at o[key], or 0 when it is missing or not a number. */
double jnum(json_t *o, const char *key);
/* Whether o[key] is there and not null. */
bool jhas(json_t *o, const char *key);

/* Writing a value at a time into sb, byte for byte what jansson's
 * json_dump_callback() gives with JSON_COMPACT | JSON_REAL_PRECISION(10)
 * for the same value (jansson has no streaming writer; a report of
 * 100,000 jobs must not be a tree of them). Strings go through
 * json_text()'s rule: invalid UTF-8 becomes U+FFFD. jw_real() returns
 * false, writing nothing, for a value jansson cannot hold (NaN, an
 * infinity), which json_object_set_new() would then leave out. */
void jw_string(struct strbuf *sb, const char *s);
/* ",\"key\":" (no comma when first), the key written as by jw_string(). */
void jw_key(struct strbuf *sb, const char *key, bool first);
bool jw_real(struct strbuf *sb, double v);
void jw_int(struct strbuf *sb, long long v);
/* Any jansson value, through jansson. */
void jw_value(struct strbuf *sb, json_t *v);

#endif
