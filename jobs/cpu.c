/* cpu.c - the `cpu` job kind: work done inside juggle's own process (or
 * worker), so the backends' handling of CPU-bound work can be compared,
 * and conversions that need no program of their own (xslt, on libxslt).
 *
 * Tasks check for a stop request and their deadline as they go, so a
 * timeout or ^C ends them as it ends a command. Outputs are written to a
 * temporary file and renamed, so a failure leaves nothing half-written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libxml/catalog.h>
#include <libxml/parser.h>
#include <libxml/xinclude.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libexslt/exslt.h>
#include <libxslt/security.h>
#include <libxslt/transform.h>
#include <libxslt/variables.h>
#include <libxslt/xslt.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/expand.h"
#include "engine/kind.h"
#include "engine/load/load.h"
#include "engine/safepath.h"
#include "engine/sig.h"
#include "jobs/xmldoc.h"

enum task { T_SUM_SQUARES, T_SHA256, T_GZIP, T_XMLCHECK, T_XSLT };

static const char *const task_names[] = {"sum_squares", "sha256", "gzip", "xmlcheck", "xslt",
					 NULL};

struct cpu_def {
	enum task task;
	const char *n;          /* sum_squares' n, placeholders still in */
	bool dtd;               /* xmlcheck validates against the DTD */
	const char *stylesheet; /* xslt's, placeholders still in */
	bool xinclude;          /* xslt: XInclude on the input first */
	struct kvvec params;    /* xslt: the params.NAME keys, pointing into the section */
};

static const char *const cpu_keys[] = {"task", "n", "dtd", "stylesheet", "xinclude", NULL};

#define PARAMS_PREFIX "params."

/* The largest n whose sum of squares fits in 128 bits with room to spare. */
#define MAX_N 1000000000000ULL

static int cpu_check(const struct graph *g, struct section *sec, struct diag *d)
{
	const struct kv *task = section_key(sec, "task");
	const struct kv *n = section_key(sec, "n");
	const struct kv *dtd = section_key(sec, "dtd");
	const struct kv *in = section_key(sec, "input");
	const struct kv *out = section_key(sec, "output");
	bool has_in = sec->foreach == FE_GLOB || (in && *in->val);
	bool has_out = out && *out->val;
	if (!task || !*task->val) {
		diag_add(d, g->file, sec->line,
			 "job '%s': missing key 'task' (sum_squares, sha256, gzip, xmlcheck or xslt)",
			 sec->name);
		return -1;
	}
	struct cpu_def *def = xcalloc(1, sizeof(*def));
	sec->kpriv = def;
	int t = -1;
	for (int i = 0; task_names[i]; i++)
		if (strcmp(task_names[i], task->val) == 0)
			t = i;
	if (t < 0) {
		const char *near = closest_word(task->val, task_names, ARRAY_SIZE(task_names) - 1);
		diag_add(d, g->file, task->line,
			 "job '%s': unknown task '%s'%s%s%s (tasks: sum_squares, sha256, gzip, xmlcheck, "
			 "xslt)",
			 sec->name, task->val, near ? " (did you mean '" : "", near ? near : "",
			 near ? "'?)" : "");
		return -1;
	}
	def->task = (enum task)t;
	int errors = 0;
#define NEED(cond, ...)                                                                            \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			diag_add(d, g->file, sec->line, "job '%s': " __VA_ARGS__);                 \
			errors++;                                                                  \
		}                                                                                  \
	} while (0)
	if (n && def->task != T_SUM_SQUARES)
		diag_add(d, g->file, n->line, "job '%s': 'n' is a key of task sum_squares only",
			 sec->name), errors++;
	if (dtd && def->task != T_XMLCHECK)
		diag_add(d, g->file, dtd->line, "job '%s': 'dtd' is a key of task xmlcheck only",
			 sec->name), errors++;
	const struct kv *sheet = section_key(sec, "stylesheet");
	const struct kv *xinc = section_key(sec, "xinclude");
	if (sheet && def->task != T_XSLT)
		diag_add(d, g->file, sheet->line, "job '%s': 'stylesheet' is a key of task xslt only",
			 sec->name), errors++;
	if (xinc && def->task != T_XSLT)
		diag_add(d, g->file, xinc->line, "job '%s': 'xinclude' is a key of task xslt only",
			 sec->name), errors++;
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		if (strncmp(kv->key, PARAMS_PREFIX, strlen(PARAMS_PREFIX)) != 0)
			continue;
		const char *name = kv->key + strlen(PARAMS_PREFIX);
		if (def->task != T_XSLT)
			diag_add(d, g->file, kv->line, "job '%s': '%s': params are keys of task xslt only",
				 sec->name, kv->key), errors++;
		else if (xmlValidateQName((const xmlChar *)name, 0) != 0)
			diag_add(d, g->file, kv->line,
				 "job '%s': '%s': '%s' is not a stylesheet parameter's name",
				 sec->name, kv->key, name), errors++;
		else
			VEC_PUSH(&def->params, *kv);
	}
	switch (def->task) {
	case T_SUM_SQUARES:
		NEED(n && *n->val, "task sum_squares needs the key 'n'", sec->name);
		if (n)
			def->n = n->val;
		break;
	case T_SHA256:
		NEED(has_in, "task sha256 needs an input", sec->name);
		NEED(has_out, "task sha256 needs an output (the digest file)", sec->name);
		break;
	case T_GZIP:
		NEED(has_in, "task gzip needs an input", sec->name);
		NEED(has_out, "task gzip needs an output", sec->name);
		break;
	case T_XMLCHECK:
		NEED(has_in, "task xmlcheck needs an input", sec->name);
		if (dtd && parse_yes_no(dtd->val, &def->dtd) < 0)
			diag_add(d, g->file, dtd->line, "job '%s': dtd: '%s' is not yes or no",
				 sec->name, dtd->val), errors++;
		break;
	case T_XSLT:
		NEED(has_in, "task xslt needs an input (the document to transform)", sec->name);
		NEED(has_out, "task xslt needs an output", sec->name);
		NEED(sheet && *sheet->val, "task xslt needs the key 'stylesheet'", sec->name);
		if (sheet)
			def->stylesheet = sheet->val;
		if (xinc && parse_yes_no(xinc->val, &def->xinclude) < 0)
			diag_add(d, g->file, xinc->line, "job '%s': xinclude: '%s' is not yes or no",
				 sec->name, xinc->val), errors++;
		break;
	}
#undef NEED
	return errors ? -1 : 0;
}

static int cpu_check_job(const struct graph *g, struct job *job, struct diag *d)
{
	const struct cpu_def *def = job->sec->kpriv;
	const struct kv *out = section_key(job->sec, "output");
	int line = out ? out->line : job->sec->line;
	if (!def)
		return 0;
	if ((def->task == T_SHA256 || def->task == T_GZIP || def->task == T_XMLCHECK ||
	     def->task == T_XSLT) &&
	    job->n_outputs > 1) {
		diag_add(d, g->file, line, "job '%s': task %s writes one output, not %u", job->name,
			 task_names[def->task], job->n_outputs);
		return -1;
	}
	if (def->task == T_GZIP && job->n_inputs != 1) {
		const struct kv *in = section_key(job->sec, "input");
		diag_add(d, g->file, in ? in->line : job->sec->line,
			 "job '%s': task gzip compresses one input, not %u", job->name,
			 job->n_inputs);
		return -1;
	}
	if (def->task == T_SUM_SQUARES) {
		struct strbuf sb = {0};
		subst_placeholders(job, def->n, SUBST_TEXT, &sb);
		uint64_t n;
		int rc = parse_uint(sb_str(&sb), MAX_N, &n);
		if (rc < 0)
			diag_add(d, g->file, section_key(job->sec, "n")->line,
				 "job '%s': n: '%s' is not a whole number from 0 to %llu", job->name,
				 sb_str(&sb), MAX_N);
		sb_release(&sb);
		return rc;
	}
	return 0;
}

static void cpu_release(struct section *sec)
{
	struct cpu_def *def = sec->kpriv;
	if (def)
		free(def->params.v);
	free(sec->kpriv);
	sec->kpriv = NULL;
}

static bool should_stop(const struct attempt *a)
{
	return cancel_requested() || (a->deadline > 0 && mono_now() >= a->deadline) ||
	       (a->worker && atomic_load(&a->worker->abandoned));
}

static int stopped(struct attempt *a)
{
	if (cancel_requested()) {
		result_fail(a->res, "interrupted");
		a->res->status = RES_INTERRUPTED;
	} else {
		/* Worth another attempt, as a command's timeout is (a loaded
		 * machine); what the task finds wrong in its input is not. */
		a->res->timed_out = true;
		a->res->retryable = true;
		result_fail(a->res, "timed out after %g s", a->job->sec->timeout);
	}
	return -1;
}

static void u128_decimal(unsigned __int128 v, char out[48])
{
	char buf[48];
	int i = 0;
	do {
		buf[i++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (int k = 0; k < i; k++)
		out[k] = buf[i - 1 - k];
	out[i] = '\0';
}

/* Sum of i*i for i in [0, n), by really iterating: the empty asm makes the
 * loop counter opaque, so the compiler can neither use the closed form nor
 * vectorise the loop away. This task exists to burn CPU honestly. */
static int run_sum_squares(struct attempt *a, const struct cpu_def *def)
{
	struct strbuf sb = {0};
	subst_placeholders(a->job, def->n, SUBST_TEXT, &sb);
	uint64_t n = 0;
	parse_uint(sb_str(&sb), MAX_N, &n);
	sb_release(&sb);
	unsigned __int128 sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		__asm__ volatile("" : "+r"(i));
		sum += (unsigned __int128)i * i;
		if ((i & 0xFFFFF) == 0 && should_stop(a))
			return stopped(a);
	}
	char dec[48];
	u128_decimal(sum, dec);
	a->res->value = xstrdup(dec);
	/* The result goes to the report and the output, not to the log: a
	 * task that says nothing costs no log file. */
	if (a->job->n_outputs) {
		char line[64];
		int len = snprintf(line, sizeof(line), "%s\n", dec);
		if (out_write(a->job->outputs[0], line, (size_t)len) < 0) {
			result_fail(a->res, "cannot write '%s': %s", a->job->outputs[0],
				    out_dir_strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int run_sha256(struct attempt *a)
{
	struct strbuf out = {0};
	for (uint32_t i = 0; i < a->job->n_inputs; i++) {
		if (should_stop(a)) {
			sb_release(&out);
			return stopped(a);
		}
		const char *path = a->job->inputs[i];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			result_fail(a->res, "cannot read input '%s': %s", path, strerror(errno));
			sb_release(&out);
			return -1;
		}
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_DigestInit_ex(ctx, md_sha256(), NULL);
		unsigned char buf[65536];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			if (n > 0)
				EVP_DigestUpdate(ctx, buf, (size_t)n);
		int e = errno;
		close(fd);
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int len;
		EVP_DigestFinal_ex(ctx, md, &len);
		EVP_MD_CTX_free(ctx);
		if (n < 0) {
			result_fail(a->res, "cannot read input '%s': %s", path, strerror(e));
			sb_release(&out);
			return -1;
		}
		char hex[2 * EVP_MAX_MD_SIZE + 1];
		hex_encode(hex, md, len);
		/* sha256sum's format; it escapes names with a newline or backslash. */
		if (strpbrk(path, "\n\\")) {
			sb_addf(&out, "\\%s  ", hex);
			for (const char *p = path; *p; p++)
				sb_adds(&out, *p == '\n' ? "\\n" : *p == '\\' ? "\\\\" : (char[]){*p, 0});
			sb_addc(&out, '\n');
		} else {
			sb_addf(&out, "%s  %s\n", hex, path);
		}
	}
	int rc = 0;
	if (out_write(a->job->outputs[0], out.buf ? out.buf : "", out.len) < 0) {
		result_fail(a->res, "cannot write '%s': %s", a->job->outputs[0], out_dir_strerror(errno));
		rc = -1;
	}
	attempt_log_write(a, sb_str(&out), out.len);
	sb_release(&out);
	return rc;
}

static int run_gzip(struct attempt *a)
{
	const char *in = a->job->inputs[0], *outp = a->job->outputs[0];
	int ifd = open(in, O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		result_fail(a->res, "cannot read input '%s': %s", in, strerror(errno));
		return -1;
	}
	struct out_file of;
	if (out_file_begin(&of, outp) < 0) {
		result_fail(a->res, "cannot write '%s': %s", outp, out_dir_strerror(errno));
		close(ifd);
		return -1;
	}
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip header with mtime 0, so the same input
	 * always gives the same bytes (reproducible archives). */
	deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	unsigned char ibuf[65536], obuf[65536];
	int rc = 0, flush = Z_NO_FLUSH;
	while (rc == 0 && flush != Z_FINISH) {
		if (should_stop(a)) {
			rc = stopped(a);
			break;
		}
		ssize_t n = read(ifd, ibuf, sizeof(ibuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			result_fail(a->res, "cannot read input '%s': %s", in, strerror(errno));
			rc = -1;
			break;
		}
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		z.next_in = ibuf;
		z.avail_in = (uInt)n;
		do {
			z.next_out = obuf;
			z.avail_out = sizeof(obuf);
			deflate(&z, flush);
			size_t have = sizeof(obuf) - z.avail_out;
			if (have && write_all(of.fd, obuf, have) < 0) {
				result_fail(a->res, "cannot write '%s': %s", outp, strerror(errno));
				rc = -1;
				break;
			}
		} while (z.avail_out == 0);
	}
	a->res->bytes = (int64_t)z.total_out;
	deflateEnd(&z);
	close(ifd);
	if (rc < 0) {
		out_file_abort(&of);
		return -1;
	}
	if (out_file_commit(&of) < 0) {
		result_fail(a->res, "cannot write '%s': %s", outp, strerror(errno));
		return -1;
	}
	return 0;
}

/* libxml2 reports errors through a per-thread callback; collect them. */
struct xml_errors {
	struct strbuf text;
	int count;
	int first_line;
	char first[512];
};

static void on_xml_error(void *ctx, xmlErrorPtr e)
{
	struct xml_errors *xe = ctx;
	if (!e || e->level < XML_ERR_ERROR)
		return;
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "error");
	msg[strcspn(msg, "\n")] = '\0';
	if (xe->count++ == 0) {
		xe->first_line = e->line;
		snprintf(xe->first, sizeof(xe->first), "%s", msg);
	}
	if (xe->count <= 50)
		sb_addf(&xe->text, "%s:%d: %s\n", e->file ? e->file : "?", e->line, msg);
}

static int run_xmlcheck(struct attempt *a, const struct cpu_def *def)
{
	struct strbuf verdicts = {0};
	int bad = 0;
	const char *first_bad = NULL;
	int options = XML_PARSE_NONET | XML_PARSE_NOWARNING;
	if (def->dtd)
		options |= XML_PARSE_DTDLOAD | XML_PARSE_DTDVALID | XML_PARSE_NOENT;
	for (uint32_t i = 0; i < a->job->n_inputs; i++) {
		if (should_stop(a)) {
			sb_release(&verdicts);
			return stopped(a);
		}
		const char *path = a->job->inputs[i];
		struct xml_errors xe = {0};
		xmlSetStructuredErrorFunc(&xe, on_xml_error);
		xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
		xmlDocPtr doc = ctxt ? xmlCtxtReadFile(ctxt, path, NULL, options) : NULL;
		bool ok = doc && xe.count == 0 && (!def->dtd || ctxt->valid);
		if (doc && def->dtd && !ctxt->valid && xe.count == 0)
			snprintf(xe.first, sizeof(xe.first), "not valid against its DTD");
		if (doc && def->dtd && !doc->intSubset && !doc->extSubset) {
			ok = false;
			snprintf(xe.first, sizeof(xe.first), "has no DOCTYPE to validate against");
		}
		xmlFreeDoc(doc);
		xmlFreeParserCtxt(ctxt);
		xmlSetStructuredErrorFunc(NULL, NULL);
		if (ok) {
			sb_addf(&verdicts, "ok %s\n", path);
		} else {
			bad++;
			if (!first_bad)
				first_bad = path;
			if (xe.first_line > 0)
				sb_addf(&verdicts, "invalid %s:%d: %s\n", path, xe.first_line,
					xe.first[0] ? xe.first : "cannot parse");
			else
				sb_addf(&verdicts, "invalid %s: %s\n", path,
					xe.first[0] ? xe.first : "cannot parse");
		}
		attempt_log_write(a, sb_str(&xe.text), xe.text.len);
		sb_release(&xe.text);
	}
	attempt_log_write(a, sb_str(&verdicts), verdicts.len);
	int rc = 0;
	if (bad) {
		result_fail(a->res, "%d of %u file%s not %s (first: %s)", bad, a->job->n_inputs,
			    a->job->n_inputs == 1 ? " is" : "s are",
			    def->dtd ? "valid" : "well-formed", first_bad);
		rc = -1;
	} else if (a->job->n_outputs &&
		   out_write(a->job->outputs[0], sb_str(&verdicts), verdicts.len) < 0) {
		result_fail(a->res, "cannot write '%s': %s", a->job->outputs[0], out_dir_strerror(errno));
		rc = -1;
	}
	sb_release(&verdicts);
	return rc;
}

/* The xslt task, as `xsltproc --nonet [--xinclude] [--stringparam N V]...
 * STYLESHEET INPUT > OUTPUT` would run it, byte for byte: the same parser
 * options, EXSLT, the same serialisation. A compiled stylesheet is not
 * shared between threads: each worker (a thread, or a process of the
 * processes backend) compiles its own the first time it needs it and keeps
 * it in worker->cache for the run, recompiling when the file changes. */

/* What libxml2 and libxslt say during this thread's transform. libxslt's
 * error function is one global, set once in the main thread; it writes to
 * the calling thread's buffer, so concurrent transforms never mix. */
static __thread struct strbuf *xslt_messages;
/* How many diagnostics libxml2 has given this thread's handler: a
 * document's parser keeps a DTD only when none came while it was read
 * (jobs/xmldoc.h). */
static __thread unsigned long xslt_diags;

static void on_xslt_message(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	if (!xslt_messages)
		return;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(xslt_messages, fmt, ap);
	va_end(ap);
}

static void on_xslt_xml_error(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	xslt_diags++;
	if (!xslt_messages || !e || e->level < XML_ERR_WARNING)
		return;
	const char *msg = e->message ? e->message : "error\n";
	if (e->file)
		sb_addf(xslt_messages, "%s:%d: %s", e->file, e->line, msg);
	else
		sb_adds(xslt_messages, msg);
	if (!*msg || msg[strlen(msg) - 1] != '\n')
		sb_addc(xslt_messages, '\n');
}

/* xsltproc's parser options: entities substituted, the DTD loaded for its
 * default attributes, CDATA as text; never the network. */
#define XSLT_OPTIONS (XSLT_PARSE_OPTIONS | XML_PARSE_NONET)

struct sheet {
	char *path;
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns, size;
	xsltStylesheetPtr style;
};

/* A worker's xslt state: its compiled stylesheets, and the parser of its
 * documents with the DTDs it keeps (NULL until the first document). */
struct sheet_cache {
	VEC(struct sheet) v;
	struct xmldoc_parser *docs;
};

static void cpu_worker_release(void *cache)
{
	struct sheet_cache *c = cache;
	xmldoc_parser_free(c->docs);
	for (size_t i = 0; i < c->v.n; i++) {
		xsltFreeStylesheet(c->v.v[i].style);
		free(c->v.v[i].path);
	}
	free(c->v.v);
	free(c);
}

/* The first thing libxslt said, on one line, for the job's error: its
 * "runtime error: file F line N element E" context joined to the message
 * that follows it. */
static const char *first_message(const struct strbuf *msgs, char *buf, size_t size)
{
	const char *s = sb_str(msgs);
	if (!*s)
		return "no message";
	size_t len = strcspn(s, "\n");
	int n = snprintf(buf, size, "%.*s", (int)len, s);
	if ((strncmp(s, "runtime error", 13) == 0 || strncmp(s, "compilation error", 17) == 0) &&
	    s[len] == '\n' && s[len + 1] && n >= 0 && (size_t)n < size) {
		const char *next = s + len + 1;
		snprintf(buf + n, size - (size_t)n, ": %.*s", (int)strcspn(next, "\n"), next);
	}
	return buf;
}

extern const struct job_kind kind_cpu;

/* The worker's compiled stylesheet for path, compiling it when the worker
 * has none or the file changed since. NULL with a->res failed. */
static xsltStylesheetPtr sheet_get(struct attempt *a, const char *path, struct strbuf *msgs)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		result_fail(a->res, "cannot read stylesheet '%s': %s", path, strerror(errno));
		return NULL;
	}
	int64_t mtime = time_ns(&st.st_mtim);
	struct sheet_cache *c = NULL;
	if (a->worker) {
		void **slot = &a->worker->cache[kind_slot(&kind_cpu)];
		if (!*slot)
			*slot = xcalloc(1, sizeof(struct sheet_cache));
		c = *slot;
	}
	struct sheet *hit = NULL;
	for (size_t i = 0; c && i < c->v.n; i++)
		if (strcmp(c->v.v[i].path, path) == 0)
			hit = &c->v.v[i];
	if (hit && hit->dev == st.st_dev && hit->ino == st.st_ino && hit->mtime_ns == mtime &&
	    hit->size == (int64_t)st.st_size)
		return hit->style;
	char first[512];
	xmlDocPtr doc = xmlReadFile(path, NULL, XSLT_OPTIONS);
	if (!doc) {
		result_fail(a->res, "cannot parse stylesheet '%s': %s", path,
			    first_message(msgs, first, sizeof(first)));
		return NULL;
	}
	xsltStylesheetPtr style = xsltParseStylesheetDoc(doc);
	if (!style || style->errors) {
		result_fail(a->res, "'%s' is not a usable XSLT stylesheet: %s", path,
			    first_message(msgs, first, sizeof(first)));
		if (style)
			xsltFreeStylesheet(style); /* frees doc */
		else
			xmlFreeDoc(doc);
		return NULL;
	}
	if (!c) /* no worker to keep it: the caller frees it */
		return style;
	if (!hit) {
		VEC_PUSH(&c->v, ((struct sheet){.path = xstrdup(path)}));
		hit = &c->v.v[c->v.n - 1];
	} else {
		xsltFreeStylesheet(hit->style);
	}
	hit->dev = st.st_dev;
	hit->ino = st.st_ino;
	hit->mtime_ns = mtime;
	hit->size = (int64_t)st.st_size;
	hit->style = style;
	return style;
}

static int xslt_transform(struct attempt *a, const struct cpu_def *def, xsltStylesheetPtr style,
			  struct xmldoc_parser *docs, const char *sheet_path, struct strbuf *msgs)
{
	const char *in = a->job->inputs[0], *outp = a->job->outputs[0];
	char first[512];
	xmlDocPtr doc = xmldoc_read(docs, in, &xslt_diags);
	if (!doc) {
		result_fail(a->res, "cannot parse '%s': %s", in,
			    first_message(msgs, first, sizeof(first)));
		return -1;
	}
	if (def->xinclude && xmlXIncludeProcessFlags(doc, XSLT_OPTIONS) < 0) {
		result_fail(a->res, "XInclude failed in '%s': %s", in,
			    first_message(msgs, first, sizeof(first)));
		xmldoc_release(docs, doc);
		return -1;
	}
	if (should_stop(a)) {
		xmldoc_release(docs, doc);
		return stopped(a);
	}
	/* The params, as xsltproc's --stringparam: literal strings. */
	const char **params = xcalloc(2 * def->params.n + 1, sizeof(*params));
	struct strbuf *vals = xcalloc(def->params.n ? def->params.n : 1, sizeof(*vals));
	for (size_t i = 0; i < def->params.n; i++) {
		subst_placeholders(a->job, def->params.v[i].val, SUBST_TEXT, &vals[i]);
		params[2 * i] = def->params.v[i].key + strlen(PARAMS_PREFIX);
		params[2 * i + 1] = sb_str(&vals[i]);
	}
	xsltTransformContextPtr tc = xsltNewTransformContext(style, doc);
	xmlDocPtr res = NULL;
	int rc = -1;
	if (!tc) {
		result_fail(a->res, "cannot set up the transform of '%s'", in);
		goto out;
	}
	xsltSetCtxtParseOptions(tc, XSLT_OPTIONS);
	if (def->xinclude)
		tc->xinclude = 1;
	if (xsltQuoteUserParams(tc, params) < 0) {
		result_fail(a->res, "cannot set the parameters of '%s': %s", sheet_path,
			    first_message(msgs, first, sizeof(first)));
		goto out;
	}
	res = xsltApplyStylesheetUser(style, doc, NULL, NULL, NULL, tc);
	if (!res || tc->state == XSLT_STATE_ERROR || tc->state == XSLT_STATE_STOPPED) {
		result_fail(a->res, "transforming '%s' with '%s' failed: %s", in, sheet_path,
			    first_message(msgs, first, sizeof(first)));
		goto out;
	}
	if (style->methodURI && !xmlStrEqual(style->method, (const xmlChar *)"xhtml")) {
		result_fail(a->res, "'%s': unsupported output method '%s'", sheet_path,
			    (const char *)style->method);
		goto out;
	}
	if (should_stop(a)) {
		rc = stopped(a);
		goto out;
	}
	struct out_file of;
	if (out_file_begin(&of, outp) < 0) {
		result_fail(a->res, "cannot write '%s': %s", outp, out_dir_strerror(errno));
		goto out;
	}
	int n = xsltSaveResultToFd(of.fd, res, style);
	if (n < 0) {
		result_fail(a->res, "cannot write '%s': %s", outp, strerror(errno));
		out_file_abort(&of);
		goto out;
	}
	if (out_file_commit(&of) < 0) {
		result_fail(a->res, "cannot write '%s': %s", outp, strerror(errno));
		goto out;
	}
	a->res->bytes = n;
	rc = 0;
out:
	xmlFreeDoc(res);
	if (tc)
		xsltFreeTransformContext(tc);
	xmldoc_release(docs, doc);
	for (size_t i = 0; i < def->params.n; i++)
		sb_release(&vals[i]);
	free(vals);
	free(params);
	return rc;
}

static int run_xslt(struct attempt *a, const struct cpu_def *def)
{
	if (should_stop(a))
		return stopped(a);
	struct strbuf path = {0}, msgs = {0};
	subst_placeholders(a->job, def->stylesheet, SUBST_TEXT, &path);
	xslt_messages = &msgs;
	xmlSetStructuredErrorFunc(NULL, on_xslt_xml_error);
	int rc = -1;
	xsltStylesheetPtr style = sheet_get(a, sb_str(&path), &msgs);
	if (style) {
		/* A worker keeps its parser, and the DTDs it has parsed, for
		 * the run; without one the parser lasts the job. */
		struct sheet_cache *c = a->worker ? a->worker->cache[kind_slot(&kind_cpu)] : NULL;
		struct xmldoc_parser *docs = c ? c->docs : NULL;
		if (!docs) {
			docs = xmldoc_parser_new(XSLT_OPTIONS);
			if (c)
				c->docs = docs;
		}
		if (docs)
			rc = xslt_transform(a, def, style, docs, sb_str(&path), &msgs);
		else
			result_fail(a->res, "cannot set up a parser for '%s'", a->job->inputs[0]);
		if (!c)
			xmldoc_parser_free(docs);
		if (!a->worker)
			xsltFreeStylesheet(style);
	}
	xmlSetStructuredErrorFunc(NULL, NULL);
	xslt_messages = NULL;
	attempt_log_write(a, sb_str(&msgs), msgs.len);
	sb_release(&msgs);
	sb_release(&path);
	return rc;
}

static int cpu_run(struct attempt *a)
{
	const struct cpu_def *def = a->job->sec->kpriv;
	switch (def->task) {
	case T_SUM_SQUARES:
		return run_sum_squares(a, def);
	case T_SHA256:
		return run_sha256(a);
	case T_GZIP:
		return run_gzip(a);
	case T_XMLCHECK:
		return run_xmlcheck(a, def);
	case T_XSLT:
		return run_xslt(a, def);
	}
	return -1;
}

static void cpu_describe(const struct job *job, struct strbuf *out)
{
	const struct cpu_def *def = job->sec->kpriv;
	sb_addf(out, "cpu task %s", task_names[def->task]);
	if (def->task == T_SUM_SQUARES) {
		sb_adds(out, " n=");
		subst_placeholders(job, def->n, SUBST_TEXT, out);
	}
	if (def->task == T_XSLT) {
		sb_adds(out, " ");
		subst_placeholders(job, def->stylesheet, SUBST_TEXT, out);
	}
	for (uint32_t i = 0; i < job->n_inputs && i < 3; i++)
		sb_addf(out, " %s", job->inputs[i]);
	if (job->n_inputs > 3)
		sb_addf(out, " (+%u more)", job->n_inputs - 3);
}

/* In the main thread, before any worker starts. libxml2 2.9 sets up its
 * catalogs lazily, on the first entity a parser resolves, and that set-up
 * is not thread-safe: two workers resolving their first DTD at once each
 * create the catalog lock, one of them then unlocks the other's, and from
 * then on every resolution waits for that lock forever. Setting it up here
 * leaves the workers only the catalog's own locked paths. */
static void cpu_global_init(void)
{
	xmlInitParser();
	xmlInitializeCatalog();
	/* libxslt's globals, once and before any thread: its extension
	 * registry, EXSLT (as xsltproc has it), where its messages go (each
	 * thread's own buffer), and what a stylesheet may do. No network:
	 * entities, imports and document() resolve through the catalogs and
	 * are refused when they would leave the machine, as with xsltproc
	 * --nonet; and a stylesheet writes no file (exsl:document), since the
	 * task's one output is written by juggle. */
	xsltInit();
	exsltRegisterAll();
	xsltSetGenericErrorFunc(NULL, on_xslt_message);
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
	xsltSecurityPrefsPtr sec = xsltNewSecurityPrefs();
	xsltSetSecurityPrefs(sec, XSLT_SECPREF_WRITE_FILE, xsltSecurityForbid);
	xsltSetSecurityPrefs(sec, XSLT_SECPREF_CREATE_DIRECTORY, xsltSecurityForbid);
	xsltSetSecurityPrefs(sec, XSLT_SECPREF_WRITE_NETWORK, xsltSecurityForbid);
	xsltSetDefaultSecurityPrefs(sec);
}

const struct job_kind kind_cpu = {
	.name = "cpu",
	.color = "#f28e2b",
	.keys = cpu_keys,
	.atomic_outputs = true,
	.global_init = cpu_global_init,
	.check = cpu_check,
	.check_job = cpu_check_job,
	.run = cpu_run,
	.describe = cpu_describe,
	.release = cpu_release,
	.worker_release = cpu_worker_release,
	.key_prefix = PARAMS_PREFIX,
};
