/* junit.c - the report as JUnit XML, for Jenkins and GitLab,
 * written with libxml2's xmlTextWriter (which escapes markup).
 *
 *   <testsuites name="juggle" tests= failures= errors= skipped= time=>
 *     <testsuite name="GRAPH" ... timestamp= hostname=>
 *       <properties> backend, jobs limit, juggle version </properties>
 *       <testcase classname="KIND" name="JOB" time="SECONDS">
 *
 * A failed job has <failure message="ERROR" type="exit code N | killed by
 * SIG | failed"> holding the tail of its log; an interrupted one <error>.
 * A job that did not run has <skipped message="...">: "up to date" (its
 * outputs are valid, nothing needed doing) or "not run: <why>" (a
 * dependency failed); CI servers count skips without failing the build,
 * and the failure that caused a not-run is reported on its own test case.
 *
 * XML 1.0 cannot hold most control characters, even escaped, and a log
 * may contain anything, so text is cleaned first (they become U+FFFD).
 */
#define _GNU_SOURCE
#include <libxml/xmlwriter.h>
#include <stdlib.h>
#include <string.h>

#include "engine/report/json.h"
#include "engine/report/report.h"

/* s with the characters XML 1.0 forbids replaced by U+FFFD. The input is
 * valid UTF-8 (it comes from the report tree). */
static char *xml_clean(const char *s)
{
	struct strbuf sb = {0};
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
			sb_adds(&sb, "\xef\xbf\xbd");
		} else if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
			sb_adds(&sb, "\xef\xbf\xbd"); /* U+FFFE, U+FFFF */
			p += 2;
		} else {
			sb_addc(&sb, (char)*p);
		}
	}
	return sb_detach(&sb);
}

/* The writer's calls return -1 on failure; count failures in *bad. */
static void attr(xmlTextWriterPtr w, const char *name, const char *value, int *bad)
{
	char *v = xml_clean(value);
	if (xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST v) < 0)
		(*bad)++;
	free(v);
}

static void attrf(xmlTextWriterPtr w, const char *name, int *bad, const char *fmt, ...)
    PRINTF(4, 5);
static void attrf(xmlTextWriterPtr w, const char *name, int *bad, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	attr(w, name, sb_str(&sb), bad);
	sb_release(&sb);
}

static void text(xmlTextWriterPtr w, const char *s, int *bad)
{
	char *v = xml_clean(s);
	if (xmlTextWriterWriteString(w, BAD_CAST v) < 0)
		(*bad)++;
	free(v);
}

static void start(xmlTextWriterPtr w, const char *name, int *bad)
{
	if (xmlTextWriterStartElement(w, BAD_CAST name) < 0)
		(*bad)++;
}

static void end(xmlTextWriterPtr w, int *bad)
{
	if (xmlTextWriterEndElement(w) < 0)
		(*bad)++;
}

static void property(xmlTextWriterPtr w, const char *name, const char *value, int *bad)
{
	start(w, "property", bad);
	attr(w, "name", name, bad);
	attr(w, "value", value, bad);
	end(w, bad);
}

static void testcase(xmlTextWriterPtr w, json_t *j, int *bad)
{
	const char *status = jstr(j, "status");
	start(w, "testcase", bad);
	attr(w, "classname", jstr(j, "kind"), bad);
	attr(w, "name", jstr(j, "name"), bad);
	attrf(w, "time", bad, "%.3f", jnum(j, "duration_s"));
	if (report_job_failed(j)) {
		bool failed = strcmp(status, "failed") == 0;
		start(w, failed ? "failure" : "error", bad);
		attr(w, "message", jhas(j, "error") ? jstr(j, "error") : status, bad);
		char *how = report_how_failed(j);
		attr(w, "type", how ? how : status, bad);
		free(how);
		struct strbuf body = {0};
		sb_addf(&body, "%s\n", jhas(j, "error") ? jstr(j, "error") : status);
		if (jhas(j, "log"))
			sb_addf(&body, "log: %s\n", jstr(j, "log"));
		if (*jstr(j, "log_tail"))
			sb_addf(&body, "--- last lines of the log ---\n%s", jstr(j, "log_tail"));
		text(w, sb_str(&body), bad);
		sb_release(&body);
		end(w, bad);
	} else if (strcmp(status, "skipped-up-to-date") == 0) {
		start(w, "skipped", bad);
		attr(w, "message", "up to date", bad);
		end(w, bad);
	} else if (strcmp(status, "skipped-nothing-failed") == 0) {
		start(w, "skipped", bad);
		attr(w, "message", "not triggered: nothing failed upstream (when = any_failed)",
		     bad);
		end(w, bad);
	} else if (strcmp(status, "not-run") == 0) {
		start(w, "skipped", bad);
		attrf(w, "message", bad, "not run: %s",
		      jhas(j, "error") ? jstr(j, "error") : "a dependency did not succeed");
		end(w, bad);
	}
	if (jhas(j, "reason") && strcmp(status, "ok") == 0) {
		start(w, "system-out", bad);
		struct strbuf out = {0};
		sb_addf(&out, "ran because %s", jstr(j, "reason"));
		if (jhas(j, "log"))
			sb_addf(&out, "\nlog: %s", jstr(j, "log"));
		text(w, sb_str(&out), bad);
		sb_release(&out);
		end(w, bad);
	}
	end(w, bad);
}

char *report_render_junit(json_t *r, size_t *len, struct strbuf *err)
{
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
	if (!w) {
		sb_addf(err, "cannot start the JUnit XML writer");
		if (buf)
			xmlBufferFree(buf);
		return NULL;
	}
	int bad = 0;
	xmlTextWriterSetIndent(w, 1);
	xmlTextWriterSetIndentString(w, BAD_CAST "  ");
	if (xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0)
		bad++;

	json_t *counts = json_object_get(r, "counts");
	long long failed = json_integer_value(json_object_get(counts, "failed"));
	long long skipped = json_integer_value(json_object_get(counts, "skipped-up-to-date")) +
	                    json_integer_value(json_object_get(counts, "not-run")) +
	                    json_integer_value(json_object_get(counts, "skipped-nothing-failed"));
	long long errors = json_integer_value(json_object_get(counts, "interrupted"));
	long long tests = (long long)json_array_size(json_object_get(r, "jobs"));
	double wall = jnum(r, "wall_s");

	start(w, "testsuites", &bad);
	attr(w, "name", "juggle", &bad);
	attrf(w, "tests", &bad, "%lld", tests);
	attrf(w, "failures", &bad, "%lld", failed);
	attrf(w, "errors", &bad, "%lld", errors);
	attrf(w, "skipped", &bad, "%lld", skipped);
	attrf(w, "time", &bad, "%.3f", wall);

	start(w, "testsuite", &bad);
	attr(w, "name", jstr(r, "graph"), &bad);
	attrf(w, "tests", &bad, "%lld", tests);
	attrf(w, "failures", &bad, "%lld", failed);
	attrf(w, "errors", &bad, "%lld", errors);
	attrf(w, "skipped", &bad, "%lld", skipped);
	attrf(w, "time", &bad, "%.3f", wall);
	/* The Ant schema's timestamp has no time zone; ours is UTC. */
	char stamp[32];
	snprintf(stamp, sizeof(stamp), "%s", jstr(r, "started"));
	size_t sl = strlen(stamp);
	if (sl && stamp[sl - 1] == 'Z')
		stamp[sl - 1] = '\0';
	attr(w, "timestamp", stamp, &bad);
	attr(w, "hostname", jstr(r, "host"), &bad);

	start(w, "properties", &bad);
	property(w, "juggle", jstr(r, "juggle"), &bad);
	property(w, "backend", jstr(r, "backend"), &bad);
	char n[32];
	snprintf(n, sizeof(n), "%lld",
	         (long long)json_integer_value(json_object_get(r, "jobs_limit")));
	property(w, "jobs_limit", n, &bad);
	end(w, &bad);

	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(r, "jobs"), i, j)
	{
		testcase(w, j, &bad);
	}
	end(w, &bad); /* testsuite */
	end(w, &bad); /* testsuites */
	if (xmlTextWriterEndDocument(w) < 0)
		bad++;
	xmlFreeTextWriter(w); /* flushes into buf */
	char *out = NULL;
	if (bad) {
		sb_addf(err, "cannot format the JUnit XML");
	} else {
		*len = (size_t)xmlBufferLength(buf);
		out = xstrndup((const char *)xmlBufferContent(buf), *len);
	}
	xmlBufferFree(buf);
	return out;
}
