/* html.c - the HTML report: one self-contained file from the report
 * tree (see report.h).
 *
 * Everything a reader needs is drawn here, in C, as plain HTML: the run's
 * facts and counts, the timeline (one lane per worker, one bar per job,
 * positioned in percent of the wall time), the critical path, the slowest
 * and the failed jobs with their logs' tails, and every job in a table. A
 * small inline script only adds behaviour: a click on a bar shows that
 * job's details, tables sort, the critical path can be shown alone.
 *
 * Safety: every string that comes from the graph, a file name or a log
 * goes through html_text() (element content) or html_attr() (a quoted
 * attribute value); class names come from fixed tables, never from data.
 * The report is embedded for the script as JSON inside
 * <script type="application/json"> with '<', '>' and '&' written as \u
 * escapes and everything beyond ASCII escaped too (U+2028/2029
 * included), so no string can close the element. A Content-Security-
 * Policy allows no network access at all and only the one inline script
 * whose hash it names, so even a mistake here could not load anything.
 */
#define _GNU_SOURCE
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kind.h"
#include "engine/report/json.h"
#include "engine/report/report.h"
#include "engine/version.h"

/* ---- escaping ---- */

/* Appends s as HTML: the markup characters as entities, control
 * characters HTML forbids as U+FFFD. attr: also both quotes. */
static void html_esc(struct strbuf *sb, const char *s, bool attr)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&':
			sb_adds(sb, "&amp;");
			break;
		case '<':
			sb_adds(sb, "&lt;");
			break;
		case '>':
			sb_adds(sb, "&gt;");
			break;
		case '"':
			sb_adds(sb, attr ? "&quot;" : "\"");
			break;
		case '\'':
			sb_adds(sb, attr ? "&#39;" : "'");
			break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				sb_adds(sb, "\xef\xbf\xbd");
			else
				sb_addc(sb, (char)c);
		}
	}
}

static void html_text(struct strbuf *sb, const char *s)
{
	html_esc(sb, s, false);
}

static void html_attr(struct strbuf *sb, const char *s)
{
	html_esc(sb, s, true);
}

/* JSON that can sit inside a <script> element: jansson escapes every
 * non-ASCII character (so U+2028/2029 too) and the three characters that
 * could start markup are written as \u escapes, which only strings can
 * hold, so the text stays the same JSON. */
static void script_json(struct strbuf *sb, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
	for (const char *p = text ? text : "null"; *p; p++) {
		switch (*p) {
		case '<':
			sb_adds(sb, "\\u003c");
			break;
		case '>':
			sb_adds(sb, "\\u003e");
			break;
		case '&':
			sb_adds(sb, "\\u0026");
			break;
		default:
			sb_addc(sb, *p);
		}
	}
	free(text);
}

/* ---- reading the tree ---- */

/* Fixed class names for the values the data may hold. */

/* The NAME of class "k-NAME" for a job of kind `kind`: the name from the
 * kind table when the kind has a color there, else "other". */
static const char *kind_class(const char *kind)
{
	const struct job_kind *k = kind_by_name(kind);
	return k && k->color ? k->name : "other";
}

/* The CSS rules of the kinds' classes, and their legend. */
static void kind_styles(struct strbuf *sb)
{
	for (size_t i = 0; job_kinds[i]; i++)
		if (job_kinds[i]->color)
			sb_addf(sb, ".k-%s{background:%s}", job_kinds[i]->name, job_kinds[i]->color);
}

static void kind_legend(struct strbuf *sb)
{
	for (size_t i = 0; job_kinds[i]; i++)
		if (job_kinds[i]->color)
			sb_addf(sb, "<span><i class=\"sw k-%s\"></i>%s</span>", job_kinds[i]->name,
			        job_kinds[i]->name);
}

static const char *status_class(const char *status)
{
	static const char *const known[] = {"ok", "failed", "skipped-up-to-date", "not-run",
	                                    "interrupted"};
	static const char *const cls[] = {"s-ok", "s-failed", "s-skipped", "s-notrun",
	                                  "s-interrupted"};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(status, known[i]) == 0)
			return cls[i];
	return "s-other";
}

static void seconds(struct strbuf *sb, double s)
{
	if (s >= 100)
		sb_addf(sb, "%.0f s", s);
	else if (s >= 10)
		sb_addf(sb, "%.1f s", s);
	else
		sb_addf(sb, "%.3f s", s);
}

/* ---- the page ---- */

/* The style sheet, around the kinds' rules (kind_styles()). */
static const char css[] =
    ":root{--fg:#1d1d1f;--muted:#6e6e73;--line:#d8d8dc;--bg:#fff;--panel:#f5f5f7}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);"
    "background:var(--bg);margin:0;padding:0 24px 48px}"
    "h1{font-size:22px;margin:20px 0 4px}h2{font-size:17px;margin:28px 0 8px}"
    "code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;"
    "font-size:12.5px}"
    ".verdict{font-size:15px;margin:0 0 12px}.verdict.bad{color:#b3261e;font-weight:600}"
    "table{border-collapse:collapse;margin:4px 0}th,td{text-align:left;padding:3px 10px 3px 0;"
    "border-bottom:1px solid var(--line);vertical-align:top}th{font-weight:600}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "table.sort th{cursor:pointer;user-select:none}"
    ".facts{display:flex;gap:48px;flex-wrap:wrap}"
    ".legend{display:flex;gap:14px;flex-wrap:wrap;align-items:center;margin:4px 0 8px;"
    "color:var(--muted)}.legend .sw{display:inline-block;width:14px;height:10px;"
    "vertical-align:middle;margin-right:4px;border-radius:2px}"
    ".tl{position:relative;border:1px solid var(--line);border-radius:4px;padding:4px 0;"
    "overflow-x:auto}"
    ".axis,.lane{display:flex;align-items:center}.lane{height:20px}"
    ".lbl{flex:0 0 90px;padding-left:6px;color:var(--muted);font-size:12px;"
    "white-space:nowrap}"
    ".track{position:relative;flex:1 1 auto;height:100%;min-width:400px;"
    "margin-right:10px}"
    ".axis .track{height:18px;border-bottom:1px solid var(--line)}"
    ".tick{position:absolute;top:0;font-size:11px;color:var(--muted);"
    "border-left:1px solid var(--line);padding-left:2px;height:17px}"
    ".bar{position:absolute;top:3px;height:14px;min-width:1px;border-radius:2px;"
    "box-sizing:border-box;cursor:pointer;outline-offset:1px}"
    ".bar:focus,.bar:hover{outline:2px solid #000}";
static const char css_after_kinds[] =
    ".k-other{background:#b07aa1}"
    ".bar.s-failed{background-image:repeating-linear-gradient(45deg,#e15759 0 4px,"
    "transparent 4px 8px);border:2px solid #b3261e}"
    ".bar.s-interrupted{background-image:repeating-linear-gradient(-45deg,#999 0 3px,"
    "transparent 3px 6px);border:2px dashed #555}"
    ".bar.cp{box-shadow:0 0 0 2px #000 inset}"
    "body.cp-only .bar:not(.cp){opacity:.15}"
    ".st{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px}"
    ".st.s-ok{background:#e3f4e1}.st.s-failed,.st.s-interrupted{background:#fbe0de}"
    ".st.s-skipped,.st.s-notrun,.st.s-other{background:#eee}"
    ".details{background:var(--panel);border-radius:4px;padding:8px 12px;margin-top:8px;"
    "min-height:20px}.details dl{display:grid;grid-template-columns:max-content auto;"
    "gap:2px 14px;margin:0}.details dt{color:var(--muted)}.details dd{margin:0;white-space:pre-wrap;"
    "overflow-wrap:anywhere}"
    "pre{background:var(--panel);padding:8px;border-radius:4px;overflow-x:auto;"
    "white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0 12px}"
    ".fail h3{font-size:14px;margin:14px 0 2px}.muted{color:var(--muted)}"
    ".chart .row{display:flex;align-items:center;gap:8px;margin:3px 0}"
    ".chart .name{flex:0 0 110px}.chart .bars{flex:1 1 auto}"
    ".chart .b{height:12px;border-radius:2px;margin:1px 0}"
    ".chart .wall{background:#4e79a7}.chart .cpu{background:#f28e2b}";

/* The page's behaviour. No data is ever turned into markup: details are
 * built with createElement and textContent. */
static const char script[] =
    "(function(){'use strict';\n"
    "var el=document.getElementById('juggle-data');\n"
    "var data=JSON.parse(el.textContent);\n"
    "var order=['name','description','kind','status','attempts','worker','queued_s',"
    "'started_s','finished_s','duration_s','cpu_s','exit_code','signal','http_status',"
    "'bytes','outputs','log','reason','error','result','log_tail'];\n"
    "function show(bar){\n"
    " var r=+bar.getAttribute('data-r'),i=+bar.getAttribute('data-i');\n"
    " var run=data.runs[r];if(!run)return;var job=run.jobs[i];if(!job)return;\n"
    " var box=document.getElementById('details-'+r);if(!box)return;\n"
    " while(box.firstChild)box.removeChild(box.firstChild);\n"
    " var dl=document.createElement('dl');\n"
    " order.forEach(function(k){\n"
    "  var v=job[k];if(v===null||v===undefined||v==='')return;\n"
    "  if(Array.isArray(v))v=v.join('\\n');\n"
    "  var dt=document.createElement('dt');dt.textContent=k;\n"
    "  var dd=document.createElement('dd'),to=dd;\n"
    "  if(k==='log_tail'){to=document.createElement('pre');dd.appendChild(to);}\n"
    "  to.textContent=typeof v==='number'&&k.slice(-2)==='_s'?v.toFixed(3):String(v);\n"
    "  dl.appendChild(dt);dl.appendChild(dd);});\n"
    " box.appendChild(dl);}\n"
    "document.addEventListener('click',function(e){\n"
    " var b=e.target.closest?e.target.closest('.bar'):null;if(b)show(b);});\n"
    "document.addEventListener('keydown',function(e){\n"
    " if((e.key==='Enter'||e.key===' ')&&e.target.classList&&"
    "e.target.classList.contains('bar')){e.preventDefault();show(e.target);}});\n"
    "var cp=document.getElementById('cp-only');\n"
    "if(cp)cp.addEventListener('change',function(){"
    "document.body.classList.toggle('cp-only',cp.checked);});\n"
    "Array.prototype.forEach.call(document.querySelectorAll('table.sort'),function(t){\n"
    " Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,col){\n"
    "  th.addEventListener('click',function(){\n"
    "   var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);\n"
    "   var dir=th.getAttribute('data-dir')==='1'?-1:1;th.setAttribute('data-dir',dir);\n"
    "   rows.sort(function(a,b){\n"
    "    var x=a.cells[col],y=b.cells[col];\n"
    "    var p=x.getAttribute('data-v'),q=y.getAttribute('data-v');\n"
    "    if(p!==null&&q!==null)return dir*(parseFloat(p)-parseFloat(q));\n"
    "    return dir*x.textContent.localeCompare(y.textContent);});\n"
    "   rows.forEach(function(row){body.appendChild(row);});});});});\n"
    "})();\n";

/* The CSP source for the script: 'sha256-<base64 of its digest>'. */
static void script_hash(struct strbuf *sb)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_Digest(script, strlen(script), md, &len, EVP_sha256(), NULL);
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	EVP_EncodeBlock(b64, md, (int)len);
	sb_addf(sb, "'sha256-%s'", (const char *)b64);
}

static void page_begin(struct strbuf *sb, const char *title)
{
	sb_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
	sb_adds(sb, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	            "style-src 'unsafe-inline'; img-src data:; script-src ");
	script_hash(sb);
	sb_adds(sb,
	        "\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	        "<meta name=\"generator\" content=\"juggle " JUGGLE_VERSION "\">\n<title>");
	html_text(sb, title);
	sb_addf(sb, "</title>\n<style>%s", css);
	kind_styles(sb);
	sb_addf(sb, "%s</style>\n</head>\n<body>\n", css_after_kinds);
}

static void page_end(struct strbuf *sb, json_t *runs)
{
	json_t *data = json_pack("{s:O}", "runs", runs);
	sb_adds(sb, "<script type=\"application/json\" id=\"juggle-data\">");
	script_json(sb, data);
	json_decref(data);
	sb_addf(sb, "</script>\n<script>%s</script>\n</body>\n</html>\n", script);
}

static void fact(struct strbuf *sb, const char *label, const char *value)
{
	sb_adds(sb, "<tr><th>");
	html_text(sb, label);
	sb_adds(sb, "</th><td>");
	html_text(sb, value);
	sb_adds(sb, "</td></tr>\n");
}

static void factf(struct strbuf *sb, const char *label, const char *fmt, ...) PRINTF(3, 4);
static void factf(struct strbuf *sb, const char *label, const char *fmt, ...)
{
	struct strbuf v = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&v, fmt, ap);
	va_end(ap);
	fact(sb, label, sb_str(&v));
	sb_release(&v);
}

static const char *const status_order[] = {"ok", "failed", "skipped-up-to-date", "not-run",
                                           "interrupted"};
static const char *const status_label[] = {"ok", "failed", "up to date", "not run", "interrupted"};

static void verdict(struct strbuf *sb, json_t *r)
{
	json_t *counts = json_object_get(r, "counts");
	bool bad = json_integer_value(json_object_get(counts, "failed")) ||
	           json_integer_value(json_object_get(counts, "interrupted")) ||
	           json_is_true(json_object_get(r, "interrupted"));
	sb_addf(sb, "<p class=\"verdict%s\">", bad ? " bad" : "");
	bool first = true;
	for (size_t i = 0; i < ARRAY_SIZE(status_order); i++) {
		json_int_t c = json_integer_value(json_object_get(counts, status_order[i]));
		if (!c && i)
			continue;
		sb_addf(sb, "%s%lld %s", first ? "" : ", ", (long long)c, status_label[i]);
		first = false;
	}
	sb_adds(sb, " in ");
	seconds(sb, jnum(r, "wall_s"));
	sb_adds(sb, "</p>\n");
}

static void facts(struct strbuf *sb, json_t *r)
{
	sb_adds(sb, "<div class=\"facts\">\n<table>\n");
	fact(sb, "graph", jstr(r, "graph"));
	fact(sb, "backend", jstr(r, "backend"));
	factf(sb, "jobs limit (-j)", "%lld",
	      (long long)json_integer_value(json_object_get(r, "jobs_limit")));
	fact(sb, "host", jstr(r, "host"));
	fact(sb, "started", jstr(r, "started"));
	fact(sb, "juggle", jstr(r, "juggle"));
	sb_adds(sb, "</table>\n<table>\n");
	factf(sb, "wall", "%.3f s", jnum(r, "wall_s"));
	factf(sb, "cpu user / system", "%.3f s / %.3f s", jnum(r, "cpu_user_s"),
	      jnum(r, "cpu_sys_s"));
	factf(sb, "jobs in flight (average)", "%.2f", jnum(r, "jobs_in_flight_avg"));
	factf(sb, "cpu use", "%.1f%% of %lld cores (cpu s / (wall x cores))",
	      100 * jnum(r, "cpu_use"), (long long)json_integer_value(json_object_get(r, "cores")));
	factf(sb, "critical path", "%.3f s", jnum(r, "critical_path_s"));
	factf(sb, "lower bound", "%.3f s (%.3f job s / %lld lanes)", jnum(r, "lower_bound_s"),
	      jnum(r, "job_s"), (long long)json_integer_value(json_object_get(r, "lanes")));
	if (jhas(r, "wall_over_bound"))
		factf(sb, "wall / lower bound", "%.2fx", jnum(r, "wall_over_bound"));
	factf(sb, "peak RSS", "%.1f MiB",
	      (double)json_integer_value(json_object_get(r, "peak_rss_kib")) / 1024);
	factf(sb, "connections", "%lld",
	      (long long)json_integer_value(json_object_get(r, "connections")));
	sb_adds(sb, "</table>\n<table>\n<thead><tr><th>status</th><th "
	            "class=\"n\">jobs</th></tr></thead>\n<tbody>\n");
	json_t *counts = json_object_get(r, "counts");
	for (size_t i = 0; i < ARRAY_SIZE(status_order); i++)
		sb_addf(
		    sb,
		    "<tr><td><span class=\"st %s\">%s</span></td><td class=\"n\">%lld</td></tr>\n",
		    status_class(status_order[i]), status_label[i],
		    (long long)json_integer_value(json_object_get(counts, status_order[i])));
	sb_adds(sb, "</tbody>\n</table>\n</div>\n");
}

/* A step of 1, 2 or 5 times a power of ten giving at most 10 ticks. */
static double tick_step(double span)
{
	if (span <= 0)
		return 1;
	double raw = span / 8, p = pow(10, floor(log10(raw)));
	for (double m = 1; m <= 10; m = m == 1 ? 2 : m == 2 ? 5 : 10)
		if (m * p >= raw)
			return m * p;
	return 10 * p;
}

struct bar {
	long long lane; /* worker, -1 none */
	double start;
	size_t index; /* in the report's jobs */
};

static int cmp_bar(const void *a, const void *b)
{
	const struct bar *x = a, *y = b;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Index of the critical path's names, for large graphs. */
static struct strmap cp_set(json_t *cp)
{
	struct strmap m = {0};
	size_t i;
	json_t *v;
	json_array_foreach(cp, i, v)
	{
		if (json_string_value(v))
			strmap_put(&m, json_string_value(v), (void *)1);
	}
	return m;
}

static void bar_title(struct strbuf *sb, json_t *j)
{
	struct strbuf t = {0};
	sb_addf(&t, "%s\n", jstr(j, "name"));
	if (jhas(j, "description"))
		sb_addf(&t, "%s\n", jstr(j, "description"));
	sb_addf(&t, "%s, %s, ", jstr(j, "kind"), jstr(j, "status"));
	seconds(&t, jnum(j, "duration_s"));
	if (jhas(j, "error"))
		sb_addf(&t, "\n%s", jstr(j, "error"));
	html_attr(sb, sb_str(&t));
	sb_release(&t);
}

/* The timeline of run number `run` (its index in the embedded data). */
static void timeline(struct strbuf *sb, json_t *r, int run)
{
	json_t *jobs = json_object_get(r, "jobs");
	json_t *cp = json_object_get(r, "critical_path");
	struct strmap crit = cp_set(cp);
	double wall = jnum(r, "wall_s");
	size_t i;
	json_t *j;
	/* The bars, sorted by lane then start. */
	VEC(struct bar) bars = {0};
	json_array_foreach(jobs, i, j)
	{
		if (!jhas(j, "started_s"))
			continue;
		double fin = jhas(j, "finished_s") ? jnum(j, "finished_s") : jnum(j, "started_s");
		if (fin > wall)
			wall = fin;
		struct bar b = {jhas(j, "worker") ? json_integer_value(json_object_get(j, "worker"))
		                                 : -1,
		                jnum(j, "started_s"), i};
		VEC_PUSH(&bars, b);
	}
	if (bars.n)
		qsort(bars.v, bars.n, sizeof(*bars.v), cmp_bar);
	if (wall <= 0)
		wall = 1e-3;

	sb_adds(sb, "<div class=\"legend\"><span>kind:</span>");
	kind_legend(sb);
	sb_adds(sb, "<span><i class=\"sw k-other\"></i>other</span>"
	            "<span>status:</span><span><i class=\"sw k-other\"></i>ok</span>"
	            "<span><i class=\"sw bar s-failed\" style=\"position:static\"></i>failed</span>"
	            "<span><i class=\"sw bar s-interrupted\" style=\"position:static\"></i>"
	            "interrupted</span>"
	            "<span><i class=\"sw bar cp k-other\" style=\"position:static\"></i>"
	            "critical path</span>");
	if (run == 0)
		sb_adds(sb, "<label><input type=\"checkbox\" id=\"cp-only\"> only the critical "
		            "path</label>");
	sb_adds(sb, "</div>\n");
	if (!bars.n) {
		sb_adds(sb, "<p class=\"muted\">No job ran.</p>\n");
		free(bars.v);
		strmap_release(&crit);
		return;
	}
	sb_adds(sb, "<div class=\"tl\">\n<div class=\"axis\"><div class=\"lbl\">seconds</div>"
	            "<div class=\"track\">");
	double step = tick_step(wall);
	for (int k = 0; k * step <= wall + step * 1e-9 && k < 100; k++) {
		double t = k * step;
		sb_addf(sb, "<span class=\"tick\" style=\"left:%.4f%%\">%g</span>", 100 * t / wall,
		        t);
	}
	sb_adds(sb, "</div></div>\n");
	for (size_t b = 0; b < bars.n; b++) {
		long long lane = bars.v[b].lane;
		if (b == 0 || bars.v[b - 1].lane != lane) {
			if (lane >= 0)
				sb_addf(sb,
				        "<div class=\"lane\"><div class=\"lbl\">worker %lld</div>"
				        "<div class=\"track\">",
				        lane);
			else
				sb_adds(sb, "<div class=\"lane\"><div class=\"lbl\">no worker</div>"
				            "<div class=\"track\">");
		}
		j = json_array_get(jobs, bars.v[b].index);
		double st = jnum(j, "started_s");
		double fin = jhas(j, "finished_s") ? jnum(j, "finished_s") : wall;
		if (fin < st)
			fin = st;
		sb_addf(sb,
		        "<div class=\"bar k-%s %s%s\" style=\"left:%.4f%%;width:%.4f%%\" "
		        "tabindex=\"0\" data-r=\"%d\" data-i=\"%zu\" title=\"",
		        kind_class(jstr(j, "kind")), status_class(jstr(j, "status")),
		        strmap_get(&crit, jstr(j, "name")) ? " cp" : "", 100 * st / wall,
		        100 * (fin - st) / wall, run, bars.v[b].index);
		bar_title(sb, j);
		sb_adds(sb, "\"></div>");
		if (b + 1 == bars.n || bars.v[b + 1].lane != lane)
			sb_adds(sb, "</div></div>\n");
	}
	sb_addf(sb,
	        "</div>\n<div class=\"details\" id=\"details-%d\"><span class=\"muted\">"
	        "Click a bar (or focus it and press Enter) for the job's details.</span></div>\n",
	        run);
	free(bars.v);
	strmap_release(&crit);
}

static json_t *job_named(json_t *jobs, const char *name)
{
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	{
		if (strcmp(jstr(j, "name"), name) == 0)
			return j;
	}
	return NULL;
}

static void job_cells(struct strbuf *sb, json_t *j)
{
	sb_adds(sb, "<td><span class=\"mono\">");
	html_text(sb, jstr(j, "name"));
	sb_adds(sb, "</span>");
	if (jhas(j, "description")) {
		sb_adds(sb, "<br><span class=\"muted\">");
		html_text(sb, jstr(j, "description"));
		sb_adds(sb, "</span>");
	}
	sb_adds(sb, "</td><td>");
	html_text(sb, jstr(j, "kind"));
	sb_addf(sb, "</td><td><span class=\"st %s\">", status_class(jstr(j, "status")));
	html_text(sb, jstr(j, "status"));
	sb_adds(sb, "</span></td>");
}

static void critical(struct strbuf *sb, json_t *r)
{
	json_t *cp = json_object_get(r, "critical_path");
	json_t *jobs = json_object_get(r, "jobs");
	sb_adds(sb, "<h2 id=\"critical\">Critical path</h2>\n");
	if (!json_array_size(cp)) {
		sb_adds(sb, "<p class=\"muted\">No job ran.</p>\n");
		return;
	}
	sb_addf(sb,
	        "<p class=\"muted\">The longest chain of jobs by duration through their "
	        "dependencies, %.3f s: the wall time with unlimited workers.</p>\n<table>\n"
	        "<thead><tr><th>#</th><th>job</th><th>kind</th><th>status</th>"
	        "<th class=\"n\">started</th><th class=\"n\">seconds</th></tr></thead>\n"
	        "<tbody>\n",
	        jnum(r, "critical_path_s"));
	size_t i;
	json_t *v;
	json_array_foreach(cp, i, v)
	{
		json_t *j = job_named(jobs, json_string_value(v) ? json_string_value(v) : "");
		sb_addf(sb, "<tr><td class=\"n\">%zu</td>", i + 1);
		if (j) {
			job_cells(sb, j);
			sb_addf(sb, "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td></tr>\n",
			        jnum(j, "started_s"), jnum(j, "duration_s"));
		} else {
			sb_adds(sb, "<td class=\"mono\">");
			html_text(sb, json_string_value(v));
			sb_adds(sb, "</td><td></td><td></td><td></td><td></td></tr>\n");
		}
	}
	sb_adds(sb, "</tbody>\n</table>\n");
}

static int cmp_dur(const void *a, const void *b)
{
	double x = jnum(*(json_t *const *)a, "duration_s"),
	       y = jnum(*(json_t *const *)b, "duration_s");
	return x < y ? 1 : x > y ? -1 : 0;
}

static void slowest(struct strbuf *sb, json_t *r)
{
	json_t *jobs = json_object_get(r, "jobs");
	size_t n = 0, i;
	json_t *j;
	json_t **v = xmalloc((json_array_size(jobs) + 1) * sizeof(*v));
	json_array_foreach(jobs, i, j)
	{
		if (jhas(j, "started_s"))
			v[n++] = j;
	}
	qsort(v, n, sizeof(*v), cmp_dur);
	sb_adds(sb, "<h2 id=\"slowest\">Slowest jobs</h2>\n");
	if (!n) {
		sb_adds(sb, "<p class=\"muted\">No job ran.</p>\n");
		free(v);
		return;
	}
	sb_adds(sb, "<table>\n<thead><tr><th>job</th><th>kind</th><th>status</th>"
	            "<th class=\"n\">seconds</th><th class=\"n\">cpu s</th><th class=\"n\">"
	            "attempts</th></tr></thead>\n<tbody>\n");
	for (size_t k = 0; k < n && k < 10; k++) {
		sb_adds(sb, "<tr>");
		job_cells(sb, v[k]);
		sb_addf(sb,
		        "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">"
		        "%lld</td></tr>\n",
		        jnum(v[k], "duration_s"), jnum(v[k], "cpu_s"),
		        (long long)json_integer_value(json_object_get(v[k], "attempts")));
	}
	sb_adds(sb, "</tbody>\n</table>\n");
	free(v);
}

static void failures(struct strbuf *sb, json_t *r)
{
	struct report_failures fl;
	report_failures_init(&fl, r);
	if (fl.n)
		sb_adds(sb, "<h2 id=\"failed\">Failed jobs</h2>\n");
	for (size_t k = 0; k < fl.n; k++) {
		const struct report_failure *f = &fl.v[k];
		sb_adds(sb, "<div class=\"fail\"><h3 class=\"mono\">");
		html_text(sb, f->name);
		sb_addf(sb, " <span class=\"st %s\">", status_class(f->status));
		html_text(sb, f->status);
		sb_adds(sb, "</span></h3>\n<p>");
		if (f->how) {
			html_text(sb, f->how);
			sb_adds(sb, ": ");
		}
		html_text(sb, f->what);
		if (f->log) {
			sb_adds(sb, " <span class=\"muted\">(log: <code>");
			html_text(sb, f->log);
			sb_adds(sb, "</code>)</span>");
		}
		sb_adds(sb, "</p>\n");
		if (*f->log_tail) {
			sb_adds(sb, "<pre>");
			html_text(sb, f->log_tail);
			sb_adds(sb, "</pre>\n");
		}
		sb_adds(sb, "</div>\n");
	}
	report_failures_release(&fl);
}

static void all_jobs(struct strbuf *sb, json_t *r)
{
	json_t *jobs = json_object_get(r, "jobs");
	sb_addf(sb, "<h2 id=\"jobs\">All jobs (%zu)</h2>\n", json_array_size(jobs));
	sb_adds(sb, "<table class=\"sort\">\n<thead><tr><th>job</th><th>kind</th><th>status</th>"
	            "<th class=\"n\">attempts</th><th class=\"n\">worker</th><th class=\"n\">"
	            "started</th><th class=\"n\">seconds</th><th class=\"n\">cpu s</th>"
	            "<th>why it ran / why it failed</th></tr></thead>\n<tbody>\n");
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	{
		sb_adds(sb, "<tr>");
		job_cells(sb, j);
		sb_addf(sb, "<td class=\"n\" data-v=\"%lld\">%lld</td>",
		        (long long)json_integer_value(json_object_get(j, "attempts")),
		        (long long)json_integer_value(json_object_get(j, "attempts")));
		if (jhas(j, "worker"))
			sb_addf(sb, "<td class=\"n\" data-v=\"%lld\">%lld</td>",
			        (long long)json_integer_value(json_object_get(j, "worker")),
			        (long long)json_integer_value(json_object_get(j, "worker")));
		else
			sb_adds(sb, "<td class=\"n\" data-v=\"-1\"></td>");
		if (jhas(j, "started_s"))
			sb_addf(sb, "<td class=\"n\" data-v=\"%.6f\">%.3f</td>",
			        jnum(j, "started_s"), jnum(j, "started_s"));
		else
			sb_adds(sb, "<td class=\"n\" data-v=\"-1\"></td>");
		sb_addf(sb,
		        "<td class=\"n\" data-v=\"%.6f\">%.3f</td><td class=\"n\" "
		        "data-v=\"%.6f\">%.3f</td><td>",
		        jnum(j, "duration_s"), jnum(j, "duration_s"), jnum(j, "cpu_s"),
		        jnum(j, "cpu_s"));
		html_text(sb, jhas(j, "error") ? jstr(j, "error") : jstr(j, "reason"));
		sb_adds(sb, "</td></tr>\n");
	}
	sb_adds(sb, "</tbody>\n</table>\n");
}

/* The body of one run's report; run: its index in the embedded data. */
static void run_body(struct strbuf *sb, json_t *r, int run)
{
	verdict(sb, r);
	facts(sb, r);
	sb_adds(sb, "<h2 id=\"timeline\">Timeline</h2>\n");
	timeline(sb, r, run);
	critical(sb, r);
	slowest(sb, r);
	failures(sb, r);
	all_jobs(sb, r);
}

char *report_render_html(json_t *report, size_t *len, struct strbuf *err)
{
	(void)err;
	struct strbuf sb = {0};
	struct strbuf title = {0};
	sb_addf(&title, "juggle: %s", jstr(report, "graph"));
	page_begin(&sb, sb_str(&title));
	sb_adds(&sb, "<h1>juggle run of <code>");
	html_text(&sb, jstr(report, "graph"));
	sb_adds(&sb, "</code></h1>\n");
	run_body(&sb, report, 0);
	json_t *runs = json_pack("[O]", report);
	page_end(&sb, runs);
	json_decref(runs);
	sb_release(&title);
	*len = sb.len;
	return sb_detach(&sb);
}

/* ---- compare ---- */

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
	page_begin(&sb, sb_str(&title));
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
		verdict(&sb, rep);
		timeline(&sb, rep, (int)i);
	}
	page_end(&sb, data);
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
