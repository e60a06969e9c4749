/* html-compare.c - the HTML page of `juggle compare` (report.h): the
 * wall and CPU seconds of each backend as bars and in a table, then each
 * run's timeline as the run report draws it (html.c).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "engine/report/html-internal.h"
#include "engine/report/json.h"
#include "engine/report/report.h"

static double run_cpu(json_t *run)
{
	if (jhas(run, "cpu_s"))
		return jnum(run, "cpu_s");
	json_t *rep = json_object_get(run, "report");
	return jnum(rep, "cpu_user_s") + jnum(rep, "cpu_sys_s");
}

static double run_wall(json_t *run)
{
	if (jhas(run, "wall_s"))
		return jnum(run, "wall_s");
	return jnum(json_object_get(run, "report"), "wall_s");
}

/* A row without a status is from before compare recorded one: finished. */
static bool run_finished(json_t *run)
{
	return !jhas(run, "status") || strcmp(jstr(run, "status"), "finished") == 0;
}

/* "failed: REASON", "interrupted" or "not run", for a row without numbers. */
static void run_status(struct strbuf *sb, json_t *run)
{
	const char *st = jstr(run, "status");
	sb_adds(sb, strcmp(st, "failed") == 0        ? "<b>failed</b>"
	            : strcmp(st, "interrupted") == 0 ? "<b>interrupted</b>"
	                                             : "not run");
	if (*jstr(run, "reason")) {
		sb_adds(sb, ": ");
		html_text(sb, jstr(run, "reason"));
	}
}

char *report_render_html_compare(json_t *cmp, size_t *len, struct strbuf *err)
{
	(void)err;
	json_t *runs = json_object_get(cmp, "runs");
	struct strbuf sb = {0};
	struct strbuf title = {0};
	sb_addf(&title, "juggle compare: %s", jstr(cmp, "graph"));
	html_page_begin(&sb, sb_str(&title));
	sb_release(&title);
	sb_adds(&sb, "<h1>juggle compare");
	if (*jstr(cmp, "graph")) {
		sb_adds(&sb, ": <code>");
		html_text(&sb, jstr(cmp, "graph"));
		sb_adds(&sb, "</code>");
	}
	sb_adds(&sb, "</h1>\n");
	if (json_integer_value(json_object_get(cmp, "repeat")) > 1)
		sb_addf(&sb, "<p class=\"muted\">Each figure is the median of %lld runs.</p>\n",
		        (long long)json_integer_value(json_object_get(cmp, "repeat")));

	double max = 0;
	size_t i;
	json_t *run;
	json_array_foreach(runs, i, run)
	{
		if (run_wall(run) > max)
			max = run_wall(run);
		if (run_cpu(run) > max)
			max = run_cpu(run);
	}
	if (max <= 0)
		max = 1e-3;
	double base = 0;
	json_array_foreach(runs, i, run)
	{
		if (run_finished(run)) {
			base = run_wall(run);
			break;
		}
	}

	sb_adds(&sb, "<h2>Wall and CPU seconds by backend</h2>\n<div class=\"legend\">"
	             "<span><i class=\"sw\" style=\"background:#4e79a7\"></i>wall</span>"
	             "<span><i class=\"sw\" style=\"background:#f28e2b\"></i>cpu</span></div>\n"
	             "<div class=\"chart\">\n");
	json_array_foreach(runs, i, run)
	{
		double w = run_wall(run), c = run_cpu(run);
		sb_adds(&sb, "<div class=\"row\"><div class=\"name mono\">");
		html_text(&sb, jstr(run, "backend"));
		if (!run_finished(run)) {
			sb_adds(&sb, "</div><div>");
			run_status(&sb, run);
			sb_adds(&sb, "</div></div>\n");
			continue;
		}
		sb_addf(&sb,
		        "</div><div class=\"bars\"><div class=\"b wall\" style=\"width:%.3f%%\" "
		        "title=\"wall %.3f s\"></div><div class=\"b cpu\" style=\"width:%.3f%%\" "
		        "title=\"cpu %.3f s\"></div></div><div class=\"mono\">%.2f s</div></div>\n",
		        100 * w / max, w, 100 * c / max, c, w);
	}
	sb_adds(&sb, "</div>\n<h2>Table</h2>\n<table class=\"sort\">\n<thead><tr><th>backend</th>"
	             "<th class=\"n\">wall s</th><th class=\"n\">speedup</th><th class=\"n\">cpu s"
	             "</th><th class=\"n\">peak RSS</th><th class=\"n\">conns</th><th>outputs</th>"
	             "<th class=\"n\">ok/failed</th></tr></thead>\n<tbody>\n");
	json_array_foreach(runs, i, run)
	{
		double w = run_wall(run);
		if (!run_finished(run)) {
			sb_adds(&sb, "<tr><td class=\"mono\">");
			html_text(&sb, jstr(run, "backend"));
			sb_adds(&sb, "</td><td colspan=\"7\">");
			run_status(&sb, run);
			sb_adds(&sb, "</td></tr>\n");
			continue;
		}
		double speed = jhas(run, "speedup") ? jnum(run, "speedup") : w > 0 ? base / w : 0;
		sb_adds(&sb, "<tr><td class=\"mono\">");
		html_text(&sb, jstr(run, "backend"));
		sb_addf(&sb,
		        "</td><td class=\"n\" data-v=\"%.6f\">%.2f</td><td class=\"n\" "
		        "data-v=\"%.6f\">%.2fx</td><td class=\"n\" data-v=\"%.6f\">%.2f</td>",
		        w, w, speed, speed, run_cpu(run), run_cpu(run));
		json_int_t rss = json_integer_value(json_object_get(run, "peak_rss_kib"));
		sb_addf(&sb,
		        "<td class=\"n\" data-v=\"%lld\">%.1f MiB</td><td class=\"n\" "
		        "data-v=\"%lld\">%lld</td><td>%s</td><td class=\"n\">%lld/%lld</td></tr>\n",
		        (long long)rss, (double)rss / 1024,
		        (long long)json_integer_value(json_object_get(run, "connections")),
		        (long long)json_integer_value(json_object_get(run, "connections")),
		        strcmp(jstr(run, "outputs"), "identical") == 0 ? "identical"
		        : strcmp(jstr(run, "outputs"), "differ") == 0  ? "<b>differ</b>"
		                                                      : "-",
		        (long long)json_integer_value(json_object_get(run, "ok")),
		        (long long)json_integer_value(json_object_get(run, "failed")));
	}
	sb_adds(&sb, "</tbody>\n</table>\n");
	json_t *same = json_object_get(cmp, "outputs_identical");
	if (json_is_boolean(same))
		sb_adds(&sb, json_is_true(same)
		                 ? "<p>Outputs: byte-identical in every finished run.</p>\n"
		                 : "<p><b>Outputs differ between runs.</b></p>\n");

	/* Each run's own timeline, when the runs carry their reports. */
	json_t *data = json_array();
	json_array_foreach(runs, i, run)
	{
		json_t *rep = json_object_get(run, "report");
		json_array_append(data, json_is_object(rep) ? rep : json_null());
		if (!json_is_object(rep))
			continue;
		sb_adds(&sb, "<h2>Timeline: <code>");
		html_text(&sb, jstr(run, "backend"));
		sb_adds(&sb, "</code></h2>\n");
		html_verdict(&sb, rep);
		html_timeline(&sb, rep, (int)i);
	}
	html_page_end(&sb, data);
	json_decref(data);
	*len = sb.len;
	return sb_detach(&sb);
}

int report_html_compare(json_t *compare_report, const char *path, struct strbuf *err)
{
	size_t len;
	char *text = report_render_html_compare(compare_report, &len, err);
	if (!text)
		return -1;
	int rc = report_save("HTML report", path, text, len, err);
	free(text);
	return rc;
}
