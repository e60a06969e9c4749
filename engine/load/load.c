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
