/* load.c - graph_load(): reading, expanding and checking a graph file,
 * phase after phase (see load-internal.h), and what the phases share. */
#define _GNU_SOURCE
#include "engine/load/load.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/expand.h"
#include "engine/graph.h"
#include "engine/load/load-internal.h"

bool in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

void jerr(struct loader *L, int line, const char *job, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	diag_add(L->d, L->file, line, "job '%s': %s", job, sb_str(&sb));
	sb_release(&sb);
}

size_t max_items(const struct loader *L)
{
	return L->o->max_items ? L->o->max_items : 1000000;
}

static void apply_overrides(struct loader *L)
{
	struct graph *g = L->g;
	for (const char *const *s = L->o->set; s && *s; s++) {
		const char *eq = strchr(*s, '=');
		if (!eq || eq == *s) {
			diag_add(L->d, "-s", 0, "'%s' is not NAME=VALUE", *s);
			continue;
		}
		struct kv kv = {.key = arena_strndup(&g->arena, *s, (size_t)(eq - *s)),
				.raw = arena_strdup(&g->arena, eq + 1)};
		VEC_PUSH(&g->vars, kv);
	}
}

/* Every ${NAME} the graph writes, in any section, selected for a run or
 * not, and in [settings], [pool], [vars] and -s values: names that match
 * name (used set when one does), or all of them into names. */
struct var_scan {
	const char *name;
	bool used;
	struct strvec *names;
};

static void scan_kvs(const struct kv *kvs, size_t n, struct var_scan *s)
{
	size_t want = s->name ? strlen(s->name) : 0;
	for (size_t i = 0; i < n && !s->used; i++) {
		size_t len;
		for (const char *p = kvs[i].raw; (p = next_var_ref(p, &len)); p += len) {
			if (s->names) {
				VEC_PUSH(s->names, xstrndup(p, len));
			} else if (len == want && memcmp(p, s->name, len) == 0) {
				s->used = true;
				break;
			}
		}
	}
}

static void scan_graph(const struct loader *L, struct var_scan *s)
{
	const struct graph *g = L->g;
	scan_kvs(g->vars.v, g->vars.n, s);
	scan_kvs(L->settings.v, L->settings.n, s);
	scan_kvs(L->pool_kvs.v, L->pool_kvs.n, s);
	for (size_t i = 0; i < g->sections.n; i++)
		scan_kvs(g->sections.v[i]->keys.v, g->sections.v[i]->keys.n, s);
}

/* A -s NAME=VALUE that neither [vars] declares nor any ${NAME} uses does
 * nothing: most likely a typo, which would silently leave the default. */
static void warn_unused_overrides(struct loader *L)
{
	const struct graph *g = L->g;
	struct strvec names = {0};
	bool scanned = false;
	for (size_t i = 0; i < g->vars.n; i++) {
		const struct kv *set = &g->vars.v[i];
		bool known = set->line > 0; /* [vars], not -s */
		for (size_t j = 0; j < i && !known; j++)
			known = strcmp(g->vars.v[j].key, set->key) == 0;
		if (known)
			continue;
		struct var_scan scan = {.name = set->key};
		scan_graph(L, &scan);
		if (scan.used)
			continue;
		if (!scanned) {
			scan_graph(L, &(struct var_scan){.names = &names});
			for (size_t j = 0; j < g->vars.n; j++)
				if (g->vars.v[j].line > 0)
					VEC_PUSH(&names, xstrdup(g->vars.v[j].key));
			scanned = true;
		}
		const char *near = closest_word(set->key, (const char *const *)names.v, names.n);
		diag_warn(L->d, NULL, 0, "-s '%s': no ${%s} in '%s' uses it, so it has no effect%s%s%s",
			  set->key, set->key, L->file, near ? " (did you mean '" : "",
			  near ? near : "", near ? "'?)" : "");
	}
	strvec_release(&names);
}

/* Ranges are counted before any job is made, so that ranges over the
 * limit together are an error at once, not after a million jobs. */
static int count_ranges(struct loader *L)
{
	size_t total = 0;
	for (size_t s = 0; s < L->g->sections.n; s++) {
		const struct section *sec = L->g->sections.v[s];
		const char *dots = sec->foreach == FE_RANGE ? strstr(sec->foreach_arg, "..") : NULL;
		if (!dots)
			continue;
		char *end;
		long a = strtol(sec->foreach_arg, &end, 10), b = strtol(dots + 2, NULL, 10);
		if (end != dots || b < a || (unsigned long)(b - a) >= max_items(L))
			continue; /* foreach_items() says what is wrong */
		total += (size_t)(b - a) + 1;
		if (total > max_items(L)) {
			const struct kv *kv = section_key(sec, "foreach");
			jerr(L, kv->line, sec->name,
			     "foreach: range %ld..%ld would make the graph over %zu jobs (the limit on one graph)",
			     a, b, max_items(L));
			return -1;
		}
	}
	return 0;
}

int graph_load(struct graph *g, const struct load_opts *o, struct diag *d)
{
	memset(g, 0, sizeof(*g));
	g->file = o->display ? o->display : o->file;
	g->loaded_at = (double)time(NULL);
	g->settings.jobs = -1;
	struct loader L = {.g = g, .d = d, .o = o, .file = g->file};
	size_t errors_before = diag_count(d);

	if (o->text && o->text_len == 0)
		return 0; /* an empty graph: nothing to read */
	L.f = o->text ? fmemopen((void *)o->text, o->text_len, "r") : fopen(o->file, "re");
	if (!L.f) {
		diag_add(d, NULL, 0, "cannot read graph file '%s': %s", g->file, strerror(errno));
		return -1;
	}
	int rc = ini_parse_stream(load_reader, &L, load_handler, &L);
	end_section(&L);
	if (ferror(L.f))
		diag_add(d, g->file, 0, "read error: %s", strerror(errno));
	fclose(L.f);
	free(L.buf);
	free(L.raw_key);
	if (rc > 0 && diag_count(d) == errors_before)
		diag_add(d, g->file, rc, "syntax error");

	apply_overrides(&L);
	warn_unused_overrides(&L);
	load_settings(&L);
	load_pools(&L);
	for (size_t s = 0; s < g->sections.n; s++)
		load_section(&L, g->sections.v[s]);
	if (diag_count(d) > errors_before)
		goto out;

	const char *slash = strrchr(o->file, '/');
	const char *graph_base = slash ? slash + 1 : o->file;
	if (count_ranges(&L) < 0)
		goto out;
	read_items(&L);
	struct globvec globs = {0};
	for (size_t s = 0; s < g->sections.n; s++)
		make_instances(&L, s, graph_base, &globs);
	resolve_input_globs(&L, &globs);
	free(globs.v);
	if (diag_count(d) > errors_before)
		goto out;
	link_deps(&L);
	if (diag_count(d) > errors_before)
		goto out;
	find_cycles(&L);
	fingerprints(g);
out:
	for (size_t s = 0; L.items && s < g->sections.n; s++)
		strvec_release(&L.items[s]);
	free(L.items);
	strmap_release(&L.declared);
	strvec_release(&L.declared_keys);
	free(L.settings.v);
	free(L.pool_kvs.v);
	free(L.job_kvs.v);
	free(L.own_dir);
	return diag_count(d) > errors_before ? -1 : 0;
}
