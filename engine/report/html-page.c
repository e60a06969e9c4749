/* html-page.c - the page every HTML report is drawn on
 * (html-internal.h): the escaping, the class names, the style sheet and
 * the script.
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
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kind.h"
#include "engine/report/html-internal.h"
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

void html_text(struct strbuf *sb, const char *s)
{
	html_esc(sb, s, false);
}

void html_attr(struct strbuf *sb, const char *s)
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

/* ---- class names ---- */

/* Class names are fixed: the kinds' come from the kind table, the
 * statuses' from the list below, never from the data. */
const char *html_kind_class(const char *kind)
{
	const struct job_kind *k = kind_by_name(kind);
	return k && k->color ? k->name : "other";
}

/* The CSS rules of the kinds' classes. */
static void kind_styles(struct strbuf *sb)
{
	for (size_t i = 0; job_kinds[i]; i++)
		if (job_kinds[i]->color)
			sb_addf(sb, ".k-%s{background:%s}", job_kinds[i]->name,
			        job_kinds[i]->color);
}

void html_kind_legend(struct strbuf *sb)
{
	for (size_t i = 0; job_kinds[i]; i++)
		if (job_kinds[i]->color)
			sb_addf(sb, "<span><i class=\"sw k-%s\"></i>%s</span>", job_kinds[i]->name,
			        job_kinds[i]->name);
}

const char *html_status_class(const char *status)
{
	static const char *const known[] = {"ok",      "failed",      "skipped-up-to-date",
	                                    "not-run", "interrupted", "skipped-nothing-failed"};
	static const char *const cls[] = {"s-ok",     "s-failed",      "s-skipped",
	                                  "s-notrun", "s-interrupted", "s-skipped"};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(status, known[i]) == 0)
			return cls[i];
	return "s-other";
}

void html_seconds(struct strbuf *sb, double s)
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
    "'started_s','finished_s','duration_s','cpu_s','exit_code','signal',"
    "'bytes','outputs','log','reason','error','result','log_tail'];\n"
    "function show(bar){\n"
    " var r=+bar.getAttribute('data-r'),i=+bar.getAttribute('data-i');\n"
    " var run=data.runs[r];if(!run)return;var job=run.jobs[i];if(!job)return;\n"
    " var box=document.getElementById('details-'+r);if(!box)return;\n"
    " while(box.firstChild)box.removeChild(box.firstChild);\n"
    " var dl=document.createElement('dl');\n"
    " var keys=order.concat(Object.keys(job).filter(function(k){return order.indexOf(k)<0;}));\n"
    " keys.forEach(function(k){\n"
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

void html_page_begin(struct strbuf *sb, const char *title)
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

void html_page_end(struct strbuf *sb, json_t *runs)
{
	json_t *data = json_pack("{s:O}", "runs", runs);
	sb_adds(sb, "<script type=\"application/json\" id=\"juggle-data\">");
	script_json(sb, data);
	json_decref(data);
	sb_addf(sb, "</script>\n<script>%s</script>\n</body>\n</html>\n", script);
}
