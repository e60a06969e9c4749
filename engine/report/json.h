/* json.h - reading the report tree.
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

/* The string at o[key], or "" when it is missing or not a string. */
const char *jstr(json_t *o, const char *key);
/* The number at o[key], or 0 when it is missing or not a number. */
double jnum(json_t *o, const char *key);
/* Whether o[key] is there and not null. */
bool jhas(json_t *o, const char *key);

#endif
