/* html-internal.h - what the files of the HTML reports share.
 *
 * Included only by engine/report/html.c (the report of a run),
 * html-compare.c (the page of `juggle compare`) and html-page.c (the page
 * both are drawn on); the rest of juggle reaches them through report.h.
 *
 * Every function appends to sb and cannot fail. Strings passed in belong
 * to the caller; the class names returned are static.
 */
#ifndef JUGGLE_REPORT_HTML_INTERNAL_H
#define JUGGLE_REPORT_HTML_INTERNAL_H

#include <jansson.h>

#include "engine/util.h"

/* ---- html-page.c ---- */

/* Appends s as element content, or as a quoted attribute value (then
 * both quotes are escaped too): the markup characters as entities, the
 * control characters HTML forbids as U+FFFD. Every string of the data
 * goes through one of these. */
void html_text(struct strbuf *sb, const char *s);
void html_attr(struct strbuf *sb, const char *s);

/* NAME for the class "k-NAME" of a job of kind `kind`: the kind's name
 * from the kind table when it has a color there, else "other". */
const char *html_kind_class(const char *kind);
/* The legend of those classes, one entry per kind with a color, in the
 * table's order. */
void html_kind_legend(struct strbuf *sb);
/* The class of a job status ("s-ok", "s-failed", ..., "s-other"). */
const char *html_status_class(const char *status);
/* s seconds, with fewer decimals as they grow: "0.250 s", "12.5 s". */
void html_seconds(struct strbuf *sb, double s);

/* The page up to the open <body>: the Content-Security-Policy naming the
 * script's hash, the title, the style sheet. */
void html_page_begin(struct strbuf *sb, const char *title);
/* The rest: runs (an array of report trees, each run's "data-r" index
 * in it) embedded as JSON for the script, the script, the closing tags. */
void html_page_end(struct strbuf *sb, json_t *runs);

/* ---- html.c ---- */

/* The run's counts and wall time in one line, marked bad when a job
 * failed or was interrupted. */
void html_verdict(struct strbuf *sb, json_t *r);
/* The timeline of report r, one lane per worker; run: r's index in the
 * array html_page_end() embeds, which its bars name for the script. */
void html_timeline(struct strbuf *sb, json_t *r, int run);

#endif
