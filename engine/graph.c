/* graph.c - lookups and orderings over a loaded graph; see graph.h. */
#define _GNU_SOURCE
#include "engine/graph.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expand.h"
#include "engine/heap.h"
#include "engine/kind.h"

const char *job_status_name(enum job_status s)
{
	static const char *const names[] = {
		[JS_PENDING] = "pending",  [JS_OK] = "ok",
		[JS_FAILED] = "failed",    [JS_SKIPPED] = "skipped-up-to-date",
		[JS_NOT_RUN] = "not-run",  [JS_INTERRUPTED] = "interrupted",
		[JS_NOT_TRIGGERED] = "skipped-nothing-failed",
	};
	return s < JS__COUNT ? names[s] : "?";
}

bool valid_job_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

const struct kv *section_key(const struct section *sec, const char *key)
{
	for (size_t i = sec->keys.n; i-- > 0;)
		if (strcmp(sec->keys.v[i].key, key) == 0)
			return &sec->keys.v[i];
	return NULL;
}

const struct kv *graph_kind_setting(const struct graph *g, const char *key)
{
	const struct kvvec *kv = &g->settings.kind;
	for (size_t i = kv->n; i-- > 0;)
		if (strcmp(kv->v[i].key, key) == 0)
			return kv->v[i].failed ? NULL : &kv->v[i];
	return NULL;
}

char *path_normalize(const char *p)
{
	struct strbuf sb = {0};
	size_t keep = 0; /* sb.buf[0..keep) is "/" or leading ".."s: never dropped */
	if (*p == '/') {
		sb_addc(&sb, '/');
		keep = 1;
	}
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 1 && p[0] == '.') {
			/* "./": nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* "x/.." is dropped, as ninja does. A ".." with nothing
			 * before it to drop stays, so a path never climbs less
			 * than it says; the root's parent is the root. */
			if (sb.len > keep) {
				char *last = memrchr(sb.buf + keep, '/', sb.len - keep);
				sb.len = last ? (size_t)(last - sb.buf) : keep;
				sb.buf[sb.len] = '\0';
			} else if (!(sb.len == 1 && sb.buf[0] == '/')) {
				if (sb.len)
					sb_addc(&sb, '/');
				sb_adds(&sb, "..");
				keep = sb.len;
			}
		} else if (n) {
			if (sb.len && sb.buf[sb.len - 1] != '/')
				sb_addc(&sb, '/');
			sb_add(&sb, p, n);
		}
		p = end;
	}
	if (!sb.len)
		sb_addc(&sb, '.');
	return sb_detach(&sb);
}

char *job_log_path(const struct job *job)
{
	struct strbuf sb = {0};
	sb_adds(&sb, STATE_DIR "/logs/");
	for (const char *p = job->name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-' || c == '[' || c == ']')
			sb_addc(&sb, (char)c);
		else
			sb_addf(&sb, "%%%02X", c);
	}
	/* Stay under NAME_MAX: long items get a hash instead of their tail. */
	size_t base = strlen(STATE_DIR "/logs/");
	if (sb.len - base > 200) {
		char hex[17];
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)hash_str(job->name));
		sb.len = base + 180;
		sb.buf[sb.len] = '\0';
		sb_addf(&sb, "~%s", hex);
	}
	sb_adds(&sb, ".log");
	return sb_detach(&sb);
}

char *job_result_path(const struct job *job)
{
	char *log = job_log_path(job);
	const char *base = log + strlen(STATE_DIR "/logs/");
	char *path = xasprintf(STATE_DIR "/results/%.*s.json", (int)(strlen(base) - 4), base);
	free(log);
	return path;
}

struct job *graph_tree_producer(const struct graph *g, const char *path)
{
	char *dir = xstrdup(path);
	struct job *found = NULL;
	for (char *slash; !found && (slash = strrchr(dir, '/'));) {
		*slash = '\0';
		struct job *p = strmap_get(&g->producer, dir);
		for (uint32_t i = 0; p && i < p->n_outputs && !found; i++)
			if (job_output_is_dir(p, i) && strcmp(p->outputs[i], dir) == 0)
				found = p;
		if (p)
			break; /* a file's producer: nothing above it holds path */
	}
	free(dir);
	return found;
}

bool job_input_is_tree(const struct job *job, const char *path)
{
	for (uint32_t i = 0; i < job->n_deps; i++) {
		const struct job *dep = job->deps[i];
		for (uint32_t k = 0; dep->out_dirs && k < dep->n_outputs; k++)
			if (dep->out_dirs[k] && strcmp(dep->outputs[k], path) == 0)
				return true;
	}
	return false;
}

struct job *graph_job(const struct graph *g, const char *name)
{
	struct job *job = strmap_get(&g->job_by_name, name);
	return job ? job : strmap_get(&g->batch_of, name);
}

static void want(struct job *job)
{
	/* Iterative: dependency chains can be 100,000 long. */
	VEC(struct job *) stack = {0};
	VEC_PUSH(&stack, job);
	while (stack.n) {
		struct job *j = stack.v[--stack.n];
		if (j->run.wanted)
			continue;
		j->run.wanted = true;
		for (uint32_t i = 0; i < j->n_deps; i++)
			if (!j->deps[i]->run.wanted)
				VEC_PUSH(&stack, j->deps[i]);
	}
	free(stack.v);
}

int graph_select(struct graph *g, char **targets, int n, struct strbuf *err)
{
	if (n == 0) {
		for (size_t i = 0; i < g->jobs.n; i++)
			g->jobs.v[i]->run.wanted = true;
		return 0;
	}
	for (int t = 0; t < n; t++) {
		const char *name = targets[t];
		struct section *sec = strmap_get(&g->section_by_name, name);
		struct job *job = graph_job(g, name);
		if (!job) {
			char *norm = path_normalize(name);
			job = strmap_get(&g->producer, norm);
			free(norm);
		}
		/* NAME[ITEM] of a section whose items are not read yet: the job
		 * standing for them, until the round that reads them. */
		const char *bracket = sec || job ? NULL : strchr(name, '[');
		if (bracket && name[strlen(name) - 1] == ']') {
			char *base = xstrndup(name, (size_t)(bracket - name));
			struct section *d = strmap_get(&g->section_by_name, base);
			free(base);
			if (d && d->deferred)
				job = g->jobs.v[d->first_job];
		}
		if (sec) {
			for (size_t i = 0; i < sec->n_jobs; i++)
				want(g->jobs.v[sec->first_job + i]);
		} else if (job) {
			want(job);
		} else {
			const char **names = xmalloc(sizeof(*names) * (g->sections.n + 1));
			for (size_t i = 0; i < g->sections.n; i++)
				names[i] = g->sections.v[i]->name;
			const char *near = closest_word(name, names, g->sections.n);
			sb_addf(err, "no job or output is called '%s'", name);
			if (near)
				sb_addf(err, " (did you mean '%s'?)", near);
			free(names);
			return -1;
		}
	}
	return 0;
}

struct job **graph_order(const struct graph *g, size_t *n)
{
	/* Kahn's algorithm over the wanted jobs, taking ready jobs in file
	 * order: a dry run then prints what a serial run would do. */
	size_t total = g->jobs.n;
	int *pending = xcalloc(total + 1, sizeof(*pending));
	struct job **out = xmalloc(sizeof(*out) * (total + 1));
	size_t count = 0;
	/* The heap keeps file order among ready jobs. */
	struct job_heap ready = {0};
	for (size_t i = 0; i < total; i++) {
		struct job *j = g->jobs.v[i];
		if (!j->run.wanted)
			continue;
		for (uint32_t k = 0; k < j->n_deps; k++)
			if (j->deps[k]->run.wanted)
				pending[i]++;
		if (!pending[i])
			job_heap_push(&ready, j);
	}
	struct job *j;
	while ((j = job_heap_pop(&ready))) {
		out[count++] = j;
		for (uint32_t k = 0; k < j->n_rdeps; k++) {
			struct job *r = j->rdeps[k];
			if (r->run.wanted && --pending[r->index] == 0)
				job_heap_push(&ready, r);
		}
	}
	job_heap_release(&ready);
	free(pending);
	*n = count;
	return out;
}

void graph_release(struct graph *g)
{
	for (size_t i = 0; i < g->sections.n; i++) {
		struct section *sec = g->sections.v[i];
		if (sec->kind && sec->kind->release)
			sec->kind->release(sec);
		if (sec->keys.cap)
			free(sec->keys.v);
	}
	for (size_t i = 0; i < g->jobs.n; i++) {
		struct job_run *r = &g->jobs.v[i]->run;
		free(r->reason);
		free(r->error);
		free(r->value);
		free(r->failed_upstream);
		json_decref(r->facts);
		json_decref(r->counts);
	}
	free(g->sections.v);
	free(g->jobs.v);
	free(g->pools.v);
	free(g->vars.v);
	free(g->settings.kind.v);
	strmap_release(&g->job_by_name);
	strmap_release(&g->section_by_name);
	strmap_release(&g->producer);
	strmap_release(&g->batch_of);
	arena_release(&g->arena);
	memset(g, 0, sizeof(*g));
}
