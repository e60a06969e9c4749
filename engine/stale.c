/* stale.c - outputs of jobs gone from the graph (see stale.h). */
#define _GNU_SOURCE
#include "engine/stale.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/outtree.h"
#include "engine/safepath.h"

/* Whether the job called name is gone from g: neither a job of g nor an
 * item of a section whose items are not known yet. */
static bool job_gone(const struct graph *g, const char *name)
{
	if (graph_job(g, name))
		return false;
	const char *bracket = strchr(name, '[');
	if (!bracket)
		return true;
	char *sec_name = xstrndup(name, (size_t)(bracket - name));
	const struct section *sec = strmap_get(&g->section_by_name, sec_name);
	free(sec_name);
	return !(sec && sec->deferred);
}

struct find {
	const struct graph *g;
	struct state *st;
	VEC(struct stale) out;
};

static void look_at(const struct state_rec *rec, void *ctx)
{
	struct find *f = ctx;
	if (!job_gone(f->g, rec->name))
		return;
	for (uint32_t i = 0; i < rec->n_out; i++) {
		const struct file_sig *was = &rec->files[rec->n_in + i];
		if (strmap_get(&f->g->producer, was->path))
			continue; /* a job of the graph makes it now */
		struct stat sb;
		if (lstat(was->path, &sb) < 0)
			continue;
		bool tree = S_ISDIR(sb.st_mode);
		if (tree ? !tree_owned(was->path) : !S_ISREG(sb.st_mode))
			continue;
		if (!tree) {
			const struct file_sig *now = state_sig(f->st, was->path, was);
			if (!now || memcmp(now->hash, was->hash, sizeof(was->hash)) != 0)
				continue; /* changed since: the user's now */
		}
		struct stale s = {was->path, rec->name, tree};
		VEC_PUSH(&f->out, s);
	}
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct stale *)a)->path, ((const struct stale *)b)->path);
}

struct stale *stale_find(const struct graph *g, struct state *st, size_t *n)
{
	struct find f = {.g = g, .st = st};
	state_each(st, look_at, &f);
	if (f.out.n > 1)
		qsort(f.out.v, f.out.n, sizeof(*f.out.v), by_path);
	*n = f.out.n;
	return f.out.v;
}

int stale_remove(const struct stale *s)
{
	return s->tree ? tree_remove(s->path) : out_unlink(s->path);
}

struct gone {
	const struct graph *g;
	VEC(const char *) names;
};

static void look_gone(const struct state_rec *rec, void *ctx)
{
	struct gone *f = ctx;
	if (!job_gone(f->g, rec->name))
		return;
	for (uint32_t i = 0; i < rec->n_out; i++) {
		struct stat sb;
		const char *path = rec->files[rec->n_in + i].path;
		if (!strmap_get(&f->g->producer, path) && lstat(path, &sb) == 0)
			return; /* something of it is still there */
	}
	VEC_PUSH(&f->names, rec->name);
}

size_t stale_forget_gone(const struct graph *g, struct state *st)
{
	struct gone f = {.g = g};
	state_each(st, look_gone, &f);
	for (size_t i = 0; i < f.names.n; i++)
		state_forget(st, f.names.v[i]);
	free(f.names.v);
	return f.names.n;
}
