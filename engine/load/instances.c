/* instances.c - foreach expanded: the items of each section, the jobs and
 * batches made from them, their inputs and outputs. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/expand.h"
#include "engine/glob.h"
#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load-internal.h"
#include "engine/safepath.h"

/* Files matching a glob: on disk, or in the in-memory file system. */
static int glob_files(const struct loader *L, const char *pattern, struct strvec *out,
		      struct strbuf *err)
{
	if (!L->o->mem_fs)
		return glob_disk(pattern, out, err);
	for (size_t i = 0; i < L->o->n_mem_files; i++)
		if (glob_match(pattern, L->o->mem_files[i].path))
			VEC_PUSH(out, xstrdup(L->o->mem_files[i].path));
	return 0;
}

/* A whole file, NUL-terminated: from disk, or from the in-memory file
 * system. NULL with errno when it cannot be read. */
static char *load_file(const struct loader *L, const char *path, size_t *len)
{
	if (!L->o->mem_fs)
		return read_file(path, len);
	for (size_t i = 0; i < L->o->n_mem_files; i++) {
		const struct mem_file *f = &L->o->mem_files[i];
		if (strcmp(f->path, path) == 0) {
			char *s = xmalloc(f->len + 1);
			memcpy(s, f->data, f->len);
			s[f->len] = '\0';
			*len = f->len;
			return s;
		}
	}
	errno = ENOENT;
	return NULL;
}

static void foreach_items(struct loader *L, struct section *sec, struct strvec *items)
{
	const struct kv *kv = section_key(sec, "foreach");
	int line = kv ? kv->line : sec->line;
	const char *arg = sec->foreach_arg;
	struct strbuf err = {0};
	switch (sec->foreach) {
	case FE_NONE:
		break;
	case FE_GLOB: {
		if (glob_files(L, arg, items, &err) < 0)
			jerr(L, line, sec->name, "foreach: %s", sb_str(&err));
		break;
	}
	case FE_LINES: {
		char *path = path_normalize(arg);
		size_t len;
		char *data = load_file(L, path, &len);
		if (!data) {
			jerr(L, line, sec->name, "foreach: cannot read '%s': %s", path,
			     strerror(errno));
			free(path);
			break;
		}
		free(path);
		if (strlen(data) != len) {
			jerr(L, line, sec->name, "foreach: '%s' contains a NUL byte", arg);
			free(data);
			break;
		}
		for (char *s = data; s && *s;) {
			char *nl = strchr(s, '\n');
			if (nl)
				*nl = '\0';
			char *b = s + strspn(s, " \t\r");
			size_t n = strlen(b);
			while (n && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r'))
				b[--n] = '\0';
			if (*b && *b != '#')
				VEC_PUSH(items, xstrdup(b));
			s = nl ? nl + 1 : NULL;
		}
		free(data);
		break;
	}
	case FE_RANGE: {
		long a, b;
		char *dots = strstr(arg, "..");
		char *first = dots ? xstrndup(arg, (size_t)(dots - arg)) : NULL;
		if (!dots || parse_long(first, LONG_MIN / 2, LONG_MAX / 2, &a) < 0 ||
		    parse_long(dots + 2, LONG_MIN / 2, LONG_MAX / 2, &b) < 0) {
			jerr(L, line, sec->name,
			     "foreach: 'range:%s' is not of the form range:FIRST..LAST", arg);
		} else if (b < a) {
			jerr(L, line, sec->name, "foreach: range %ld..%ld is empty (LAST < FIRST)",
			     a, b);
		} else if ((unsigned long)(b - a) >= max_items(L)) {
			jerr(L, line, sec->name, "foreach: range %ld..%ld has over %zu items", a, b,
			     max_items(L));
		} else if ((size_t)(b - a) + 1 > max_items(L) - L->instances) {
			/* Before making the items: eight ranges of a million would
			 * exhaust memory first. */
			jerr(L, line, sec->name,
			     "foreach: range %ld..%ld would make the graph over %zu jobs (the limit on one graph)",
			     a, b, max_items(L));
		} else {
			for (long i = a; i <= b; i++)
				VEC_PUSH(items, xasprintf("%ld", i));
		}
		free(first);
		break;
	}
	case FE_LIST: {
		char **w = split_words(arg, &err);
		if (!w) {
			jerr(L, line, sec->name, "foreach: %s", sb_str(&err));
			break;
		}
		for (char **p = w; *p; p++)
			VEC_PUSH(items, xstrdup(*p));
		free_words(w);
		break;
	}
	}
	if (items->n > max_items(L)) {
		jerr(L, line, sec->name, "foreach: %zu items, over the %zu one job may have",
		     items->n, max_items(L));
		strvec_release(items);
	}
	sb_release(&err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks that an output stays inside the graph's folder. */
static const char *output_problem(const char *path, const char *graph_base)
{
	if (!*path || strcmp(path, ".") == 0)
		return "is empty";
	if (path[0] == '/')
		return "is an absolute path; outputs must stay inside the graph's folder";
	if (strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 || strstr(path, "/../") ||
	    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
		return "leaves the graph's folder through '..'";
	if (strcmp(path, STATE_DIR) == 0 || strncmp(path, STATE_DIR "/", strlen(STATE_DIR) + 1) == 0)
		return "is inside juggle's state folder " STATE_DIR "/";
	if (strcmp(path, graph_base) == 0)
		return "is the graph file itself";
	return NULL;
}

/* Where a symbolic link leads, as an absolute path with its folder
 * resolved; for a link whose target does not exist yet. NULL if unknown. */
static char *link_target(const char *link)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *dir = NULL;
	if (buf[0] != '/') {
		const char *slash = strrchr(link, '/');
		dir = slash ? xstrndup(link, (size_t)(slash - link)) : xstrdup(".");
	}
	char *abs = dir ? xasprintf("%s/%s", dir, buf) : xstrdup(buf);
	free(dir);
	char *slash = strrchr(abs, '/');
	char *parent = slash == abs ? xstrdup("/") : xstrndup(abs, (size_t)(slash - abs));
	char *real = realpath(parent, NULL);
	char *out = real ? xasprintf("%s/%s", real, slash + 1) : NULL;
	free(real);
	free(parent);
	free(abs);
	return out;
}

/* Whether the real folder of an output (already checked by
 * output_problem()) is juggle's state folder or inside it: a symbolic link
 * in its folder ("st -> .juggle", "output = st/state") gets past the
 * check of the path's letters. Only a path with a link in it is resolved. */
static bool output_in_state_dir(struct loader *L, const char *path)
{
	const char *last = strrchr(path, '/');
	if (!last)
		return false; /* in the graph's folder itself */
	size_t n_dir = (size_t)(last - path);
	if (L->own_dir && strlen(L->own_dir) == n_dir && memcmp(L->own_dir, path, n_dir) == 0)
		return L->own_inside;
	free(L->own_dir);
	L->own_dir = xstrndup(path, n_dir);
	char *prefix = xstrdup(path);
	bool inside = false, linked = false;
	for (char *slash = strchr(prefix, '/'); slash && !inside; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		struct stat sb;
		bool exists = lstat(prefix, &sb) == 0;
		if (exists && S_ISLNK(sb.st_mode))
			linked = true;
		if (linked) {
			char *real = realpath(prefix, NULL);
			if (!real && exists && S_ISLNK(sb.st_mode))
				real = link_target(prefix);
			char *cwd = real ? realpath(".", NULL) : NULL;
			if (real && cwd) {
				size_t n = strlen(cwd), s = strlen(STATE_DIR);
				inside = strncmp(real, cwd, n) == 0 && real[n] == '/' &&
					 strncmp(real + n + 1, STATE_DIR, s) == 0 &&
					 (real[n + 1 + s] == '\0' || real[n + 1 + s] == '/');
			}
			free(cwd);
			free(real);
		}
		*slash = '/';
		if (!exists)
			break;
	}
	free(prefix);
	L->own_inside = inside;
	return inside;
}

static const char *instance_name(struct arena *a, const char *base, const char *item)
{
	size_t nb = strlen(base), ni = strlen(item);
	char *s = arena_alloc(a, nb + ni + 3);
	memcpy(s, base, nb);
	s[nb] = '[';
	memcpy(s + nb + 1, item, ni);
	s[nb + ni + 1] = ']';
	s[nb + ni + 2] = '\0';
	return s;
}

/* The NULL-terminated list of a job without inputs (or outputs), shared:
 * at 100,000 jobs one each would take 1.6 MB. Never written. */
static const char *no_paths[1];

static const char **str_array(struct arena *a, struct strvec *v)
{
	if (!v->n)
		return no_paths;
	const char **arr = arena_alloc(a, sizeof(*arr) * (v->n + 1));
	for (size_t i = 0; i < v->n; i++)
		arr[i] = arena_strdup(a, v->v[i]);
	arr[v->n] = NULL;
	return arr;
}

/* Words of a key for one instance: split, then placeholders per word. */
int instance_words(struct loader *L, struct job *job, const struct kv *kv, struct strvec *out)
{
	if (!kv)
		return 0;
	struct strbuf err = {0}, sb = {0};
	char **w = split_words(kv->val, &err);
	if (!w) {
		jerr(L, kv->line, job->name, "%s: %s", kv->key, sb_str(&err));
		sb_release(&err);
		return -1;
	}
	for (char **p = w; *p; p++) {
		sb_reset(&sb);
		subst_placeholders(job, *p, SUBST_TEXT, &sb);
		VEC_PUSH(out, sb_detach(&sb));
	}
	free_words(w);
	sb_release(&err);
	return 0;
}

/* A job for one foreach item (NULL: the section's only job), without its
 * paths yet. */
static struct job *new_instance(struct loader *L, struct section *sec, const char *item)
{
	struct graph *g = L->g;
	struct job *job = arena_alloc(&g->arena, sizeof(*job));
	memset(job, 0, sizeof(*job));
	job->sec = sec;
	size_t plen = sec->glob_prefix ? strlen(sec->glob_prefix) : 0;
	if (!item) {
		job->name = sec->name;
	} else if (sec->foreach == FE_GLOB) {
		job->match = arena_strdup(&g->arena, item);
		job->item = job->match + (strncmp(job->match, sec->glob_prefix, plen) == 0 ? plen : 0);
		job->name = instance_name(&g->arena, sec->name, job->item);
	} else {
		job->item = arena_strdup(&g->arena, item);
		job->name = instance_name(&g->arena, sec->name, job->item);
	}
	return job;
}

/* Fills job's outputs and inputs from the section's keys; input globs are
 * resolved later, into owner (the job, or the batch holding it). */
static void instance_paths(struct loader *L, struct job *job, struct job *owner,
			   const char *graph_base, struct globvec *globs)
{
	struct graph *g = L->g;
	const struct kv *out_kv = section_key(job->sec, "output");
	const struct kv *in_kv = section_key(job->sec, "input");
	/* Outputs first: inputs may not name them, other keys may. */
	struct strvec outs = {0}, ins = {0};
	unsigned char *dirs = NULL;
	if (instance_words(L, job, out_kv, &outs) == 0) {
		for (size_t k = 0; k < outs.n; k++) {
			size_t len = strlen(outs.v[k]);
			if (len > 1 && outs.v[k][len - 1] == '/') {
				/* "DIR/": a folder output (engine/outtree.h). */
				if (!dirs) {
					dirs = arena_alloc(&g->arena, outs.n);
					memset(dirs, 0, outs.n);
				}
				dirs[k] = 1;
				L->tree_outputs = true;
				if (!job->sec->kind->folder_outputs)
					jerr(L, out_kv->line, job->name,
					     "output '%s': a folder output (output_dir, or a trailing '/') is only "
					     "for jobs that run a program; a %s job writes files",
					     outs.v[k], job->sec->kind->name);
				else if (job->sec->batch > 1)
					jerr(L, out_kv->line, job->name,
					     "output '%s': a folder output (output_dir, or a trailing '/') cannot be "
					     "batched; remove batch",
					     outs.v[k]);
			}
			char *norm = path_normalize(outs.v[k]);
			free(outs.v[k]);
			outs.v[k] = norm;
			const char *why = output_problem(norm, graph_base);
			/* The state folder first: a link to .juggle before it exists
			 * dangles, and "leads outside" would hide the real problem. */
			if (!why && output_in_state_dir(L, norm))
				why = "is inside juggle's state folder " STATE_DIR "/ through a "
				      "symbolic link";
			if (!why && out_dir_leaves(norm))
				why = "is in a folder that leads outside the graph's folder "
				      "through a symbolic link";
			if (why)
				jerr(L, out_kv->line, job->name, "output '%s' %s", norm, why);
		}
	}
	job->outputs = str_array(&g->arena, &outs);
	job->n_outputs = (uint32_t)outs.n;
	job->out_dirs = dirs;
	if (job->match)
		VEC_PUSH(&ins, xstrdup(job->match));
	if (instance_words(L, job, in_kv, &ins) == 0) {
		size_t keep = 0;
		for (size_t k = 0; k < ins.n; k++) {
			if (glob_has_magic(ins.v[k]) && !(job->match && k == 0)) {
				char *norm = path_normalize(ins.v[k]);
				struct pending_glob pg = {owner, arena_strdup(&g->arena, norm),
							  in_kv->line};
				VEC_PUSH(globs, pg);
				free(norm);
				free(ins.v[k]);
				continue;
			}
			char *norm = path_normalize(ins.v[k]);
			free(ins.v[k]);
			ins.v[keep++] = norm;
		}
		ins.n = keep;
	}
	job->inputs = str_array(&g->arena, &ins);
	job->n_inputs = (uint32_t)ins.n;
	strvec_release(&outs);
	strvec_release(&ins);
}

/* One job for n foreach items (batch = N), named NAME[FIRST..LAST]: each
 * item becomes a member with its own paths, and the batch reads and
 * writes them all. */
static struct job *new_batch(struct loader *L, struct section *sec, char **items, size_t n,
			     const char *graph_base, struct globvec *globs)
{
	struct graph *g = L->g;
	struct job *b = arena_alloc(&g->arena, sizeof(*b));
	memset(b, 0, sizeof(*b));
	b->sec = sec;
	b->members = arena_alloc(&g->arena, sizeof(*b->members) * n);
	b->n_members = (uint32_t)n;
	size_t n_in = 0, n_out = 0;
	for (size_t k = 0; k < n; k++) {
		struct job *m = new_instance(L, sec, items[k]);
		instance_paths(L, m, b, graph_base, globs);
		b->members[k] = m;
		n_in += m->n_inputs;
		n_out += m->n_outputs;
	}
	char *item = xasprintf("%s..%s", b->members[0]->item, b->members[n - 1]->item);
	b->item = arena_strdup(&g->arena, item);
	free(item);
	b->name = instance_name(&g->arena, sec->name, b->item);
	b->inputs = arena_alloc(&g->arena, sizeof(*b->inputs) * (n_in + 1));
	b->outputs = arena_alloc(&g->arena, sizeof(*b->outputs) * (n_out + 1));
	struct strmap seen = {0};
	for (size_t k = 0; k < n; k++) {
		const struct job *m = b->members[k];
		for (uint32_t i = 0; i < m->n_inputs; i++) {
			if (strmap_get(&seen, m->inputs[i]))
				continue; /* an input the items share is read once */
			strmap_put(&seen, m->inputs[i], (void *)m->inputs[i]);
			b->inputs[b->n_inputs++] = m->inputs[i];
		}
		for (uint32_t i = 0; i < m->n_outputs; i++)
			b->outputs[b->n_outputs++] = m->outputs[i];
	}
	b->inputs[b->n_inputs] = NULL;
	b->outputs[b->n_outputs] = NULL;
	strmap_release(&seen);
	return b;
}

/* Registers a new job: its outputs, its name (and its members' names). */
static void add_job(struct loader *L, struct job *job)
{
	struct graph *g = L->g;
	const struct kv *out_kv = section_key(job->sec, "output");
	/* One lookup a name: put, and on a clash put the first one back. */
	for (uint32_t k = 0; k < job->n_outputs; k++) {
		struct job *other = strmap_put(&g->producer, job->outputs[k], job);
		if (other)
			strmap_put(&g->producer, job->outputs[k], other);
		if (other == job) {
			jerr(L, out_kv->line, job->name, "output '%s' is declared twice",
			     job->outputs[k]);
			continue;
		}
		if (other) {
			jerr(L, out_kv->line, job->name,
			     "output '%s' is also an output of job '%s' (line %d)",
			     job->outputs[k], other->name, other->sec->line);
			continue;
		}
	}
	struct job *twin = strmap_put(&g->job_by_name, job->name, job);
	if (twin) {
		strmap_put(&g->job_by_name, job->name, twin);
		jerr(L, job->sec->line, job->name, "two jobs have this name");
		return;
	}
	for (uint32_t k = 0; k < job->n_members; k++)
		strmap_put(&g->batch_of, job->members[k]->name, job);
	job->index = (uint32_t)g->jobs.n;
	VEC_PUSH(&g->jobs, job);
	if (job->sec->kind->check_job && !job->sec->deferred) /* it never runs */
		job->sec->kind->check_job(g, job, L->d);
}

/* Whether a glob foreach of section s may take path as an item. Outputs
 * of the jobs of sections above count as files, as in make (they are
 * added as items even before they exist); outputs of the section itself
 * and of sections below never do, nor juggle's own files, so a glob does
 * not feed on what it or a later job makes and the graph is the same from
 * one run to the next. */
static bool glob_item_allowed(const struct loader *L, size_t s, const char *path)
{
	if (strcmp(path, STATE_DIR) == 0 || strncmp(path, STATE_DIR "/", strlen(STATE_DIR) + 1) == 0)
		return false;
	uintptr_t t = (uintptr_t)strmap_get(&L->declared, path);
	return t == 0 || t - 1 < s;
}

/* Adds to items the outputs of sections above s that a glob foreach of s
 * matches (the declared map, or the jobs made so far). */
static void add_outputs_above(const struct loader *L, size_t s, const struct strmap *m,
			      struct strvec *items)
{
	const char *pattern = L->g->sections.v[s]->foreach_arg;
	const char *key;
	void *val;
	for (size_t i = 0; strmap_next(m, &i, &key, &val);) {
		bool above = m == &L->g->producer || (uintptr_t)val - 1 < s;
		if (above && glob_match(pattern, key))
			VEC_PUSH(items, xstrdup(key));
	}
}

/* Records in L->declared the outputs section s would declare for items. */
static void declare_outputs(struct loader *L, size_t s, const struct strvec *items)
{
	struct section *sec = L->g->sections.v[s];
	const struct kv *out_kv = section_key(sec, "output");
	struct strbuf err = {0}, sb = {0};
	char **words = out_kv ? split_words(out_kv->val, &err) : NULL;
	size_t n = sec->foreach == FE_NONE ? 1 : items->n;
	size_t plen = sec->glob_prefix ? strlen(sec->glob_prefix) : 0;
	for (size_t i = 0; words && i < n; i++) {
		struct job tmp = {.sec = sec, .name = sec->name};
		const char *item = sec->foreach == FE_NONE ? NULL : items->v[i];
		if (sec->foreach == FE_GLOB) {
			tmp.match = item;
			tmp.item = strncmp(item, sec->glob_prefix, plen) == 0 ? item + plen : item;
		} else {
			tmp.item = item;
		}
		for (char **w = words; *w; w++) {
			sb_reset(&sb);
			subst_placeholders(&tmp, *w, SUBST_TEXT, &sb);
			char *norm = path_normalize(sb_str(&sb));
			if (strmap_get(&L->declared, norm)) {
				free(norm);
				continue;
			}
			VEC_PUSH(&L->declared_keys, norm);
			strmap_put(&L->declared, norm, (void *)(uintptr_t)(s + 1));
		}
	}
	free_words(words);
	sb_release(&err);
	sb_release(&sb);
}

/* Whether an output of deferred section t could be path: its items are
 * not known yet, so each placeholder of its output key matches anything. */
static bool deferred_may_make(const struct section *t, const char *path)
{
	const struct kv *out = section_key(t, "output");
	struct strbuf err = {0};
	char **words = out ? split_words(out->val, &err) : NULL;
	sb_release(&err);
	bool may = false;
	for (char **w = words; w && *w && !may; w++) {
		struct strbuf pat = {0};
		for (const char *p = *w; *p; p++) {
			const char *close = *p == '{' ? strchr(p, '}') : NULL;
			if (close) {
				sb_addc(&pat, '*');
				p = close;
			} else {
				sb_addc(&pat, *p);
			}
		}
		char *norm = path_normalize(sb_str(&pat));
		may = glob_match(norm, path);
		free(norm);
		sb_release(&pat);
	}
	free_words(words);
	return may;
}

/* The output of another section that the foreach of section s reads
 * (its lines: file, or the folder of its glob or one above it), or NULL:
 * a declared output, or one a deferred section above may make. */
static const char *dynamic_source(struct loader *L, size_t s)
{
	struct section *sec = L->g->sections.v[s];
	char *path = path_normalize(sec->foreach == FE_LINES ? sec->foreach_arg : sec->glob_prefix);
	const char *found = NULL;
	for (;;) {
		uintptr_t t = (uintptr_t)strmap_get(&L->declared, path);
		for (size_t k = 0; !t && k < s; k++)
			if (L->g->sections.v[k]->deferred &&
			    deferred_may_make(L->g->sections.v[k], path))
				t = k + 1;
		if (t && t - 1 != s) {
			found = arena_strdup(&L->g->arena, path);
			break;
		}
		char *slash = sec->foreach == FE_GLOB ? strrchr(path, '/') : NULL;
		if (!slash)
			break;
		*slash = '\0';
	}
	free(path);
	return found;
}

/* Whether a foreach may read another job's output (load_opts.dynamic). */
static bool may_be_dynamic(const struct loader *L, const struct section *sec)
{
	return L->o->dynamic &&
	       (sec->foreach == FE_LINES ||
	        (sec->foreach == FE_GLOB && sec->glob_prefix && *sec->glob_prefix));
}

static void declare_glob_outputs(struct loader *L, size_t s);

/* With load_opts.dynamic: the outputs of every section whose items are
 * known first, then each foreach that may read another job's output, in
 * file order: one that does is deferred until that output is settled. */
static void read_dynamic_items(struct loader *L)
{
	struct graph *g = L->g;
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		if (!may_be_dynamic(L, sec)) {
			foreach_items(L, sec, &L->items[s]);
			if (sec->foreach == FE_GLOB)
				declare_glob_outputs(L, s);
			else
				declare_outputs(L, s, &L->items[s]);
		}
	}
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		if (!may_be_dynamic(L, sec))
			continue;
		sec->dyn_source = dynamic_source(L, s);
		struct stat sb;
		bool settled = sec->dyn_source &&
		               ((L->o->settled && strmap_get(L->o->settled, sec->dyn_source)) ||
		                (L->o->settled_if_exists && stat(sec->dyn_source, &sb) == 0));
		if (sec->dyn_source && !settled) {
			sec->deferred = true;
			continue;
		}
		foreach_items(L, sec, &L->items[s]);
		if (sec->foreach == FE_GLOB)
			declare_glob_outputs(L, s);
		else
			declare_outputs(L, s, &L->items[s]);
	}
}

/* Reads every section's foreach items before any job is made and, when a
 * glob foreach is in the graph, the outputs every section would declare:
 * a glob must know the outputs of the sections below it too. */
void read_items(struct loader *L)
{
	struct graph *g = L->g;
	L->items = xcalloc(g->sections.n + 1, sizeof(*L->items));
	bool any_glob = false, any_dynamic = false;
	for (size_t s = 0; s < g->sections.n; s++)
		any_dynamic |= may_be_dynamic(L, g->sections.v[s]);
	if (any_dynamic) {
		read_dynamic_items(L);
		return;
	}
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		foreach_items(L, sec, &L->items[s]);
		any_glob |= sec->foreach == FE_GLOB;
	}
	if (!any_glob)
		return;
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		if (sec->foreach != FE_GLOB) {
			declare_outputs(L, s, &L->items[s]);
			continue;
		}
		declare_glob_outputs(L, s);
	}
}

/* What the glob of section s would take if its own outputs were not
 * known: its outputs for those items are what it must not take. */
static void declare_glob_outputs(struct loader *L, size_t s)
{
	struct strvec with_above = {0};
	for (size_t i = 0; i < L->items[s].n; i++)
		VEC_PUSH(&with_above, xstrdup(L->items[s].v[i]));
	add_outputs_above(L, s, &L->declared, &with_above);
	declare_outputs(L, s, &with_above);
	strvec_release(&with_above);
}

void make_instances(struct loader *L, size_t s, const char *graph_base, struct globvec *globs)
{
	struct graph *g = L->g;
	struct section *sec = g->sections.v[s];
	struct strvec items = L->items[s];
	L->items[s] = (struct strvec){0};
	if (sec->deferred) {
		/* One job of the section's name stands for the items until they
		 * can be read: it waits for the producer (through its one input)
		 * and the jobs after the section wait for it. */
		struct job *job = new_instance(L, sec, NULL);
		const char *in[] = {sec->dyn_source, NULL};
		job->inputs = arena_alloc(&g->arena, sizeof(in));
		memcpy(job->inputs, in, sizeof(in));
		job->n_inputs = 1;
		job->outputs = no_paths;
		sec->first_job = g->jobs.n;
		add_job(L, job);
		sec->n_jobs = g->jobs.n - sec->first_job;
		return;
	}
	if (sec->foreach == FE_GLOB) {
		add_outputs_above(L, s, &g->producer, &items);
		size_t w = 0;
		for (size_t i = 0; i < items.n; i++) {
			if (glob_item_allowed(L, s, items.v[i]))
				items.v[w++] = items.v[i];
			else
				free(items.v[i]);
		}
		items.n = w;
	}
	if (sec->foreach != FE_NONE) {
		if (sec->foreach == FE_GLOB && items.n)
			qsort(items.v, items.n, sizeof(char *), cmp_str);
		/* Duplicates: drop those a glob found twice, reject the others. */
		struct strmap seen = {0};
		size_t w = 0;
		for (size_t i = 0; i < items.n; i++) {
			if (strmap_get(&seen, items.v[i])) {
				const struct kv *kv = section_key(sec, "foreach");
				if (sec->foreach == FE_LINES)
					diag_warn(
					    L->d, L->file, kv->line,
					    "job '%s': foreach item '%s' appears twice in '%s'; "
					    "it makes one job",
					    sec->name, items.v[i], sec->foreach_arg);
				else if (sec->foreach != FE_GLOB)
					jerr(L, kv->line, sec->name,
					     "foreach item '%s' appears twice; instance names must "
					     "be unique",
					     items.v[i]);
				free(items.v[i]);
				continue;
			}
			strmap_put(&seen, items.v[i], items.v[i]);
			items.v[w++] = items.v[i];
		}
		items.n = w;
		strmap_release(&seen);
	}
	size_t count = sec->foreach == FE_NONE ? 1 : items.n;
	if (!count && (sec->foreach == FE_GLOB || sec->foreach == FE_LINES)) {
		const struct kv *kv = section_key(sec, "foreach");
		diag_warn(L->d, L->file, kv ? kv->line : sec->line,
		          "job '%s': foreach %s '%s' yields no item, so the section makes no job",
		          sec->name, sec->foreach == FE_GLOB ? "glob" : "file", sec->foreach_arg);
	}
	if (count > max_items(L) - L->instances) {
		const struct kv *kv = section_key(sec, "foreach");
		jerr(L, kv ? kv->line : sec->line, sec->name,
		     "foreach: %zu items would make the graph over %zu jobs (the limit on one graph)",
		     count, max_items(L));
		count = 0;
	}
	L->instances += count;
	size_t per = sec->batch > 1 ? (size_t)sec->batch : 1;
	/* Room for the section's jobs at once, not by doubling. */
	strmap_reserve(&g->job_by_name, g->job_by_name.n + (count + per - 1) / per);
	if (section_key(sec, "output"))
		strmap_reserve(&g->producer, g->producer.n + count);
	sec->first_job = g->jobs.n;
	for (size_t i = 0; i < count; i += per) {
		size_t n = count - i < per ? count - i : per;
		const char *item = sec->foreach == FE_NONE ? NULL : items.v[i];
		struct job *job;
		if (n == 1) { /* a batch of one is that item's instance */
			job = new_instance(L, sec, item);
			instance_paths(L, job, job, graph_base, globs);
		} else {
			job = new_batch(L, sec, items.v + i, n, graph_base, globs);
		}
		add_job(L, job);
	}
	sec->n_jobs = g->jobs.n - sec->first_job;
	strvec_release(&items);
}

/* Input globs see files on disk and every job's declared outputs. */
void resolve_input_globs(struct loader *L, struct globvec *globs)
{
	struct graph *g = L->g;
	for (size_t i = 0; i < globs->n; i++) {
		struct pending_glob *pg = &globs->v[i];
		struct strvec found = {0};
		struct strbuf err = {0};
		if (glob_files(L, pg->pattern, &found, &err) < 0)
			jerr(L, pg->line, pg->job->name, "input: %s", sb_str(&err));
		const char *key;
		void *val;
		for (size_t k = 0; strmap_next(&g->producer, &k, &key, &val);)
			if (val != pg->job && glob_match(pg->pattern, key))
				VEC_PUSH(&found, xstrdup(key));
		if (found.n) /* found.v is NULL when nothing matched */
			qsort(found.v, found.n, sizeof(char *), cmp_str);
		struct job *job = pg->job;
		const char **all = arena_alloc(&g->arena,
					       sizeof(*all) * (job->n_inputs + found.n + 1));
		memcpy(all, job->inputs, sizeof(*all) * job->n_inputs);
		uint32_t n = job->n_inputs;
		for (size_t k = 0; k < found.n; k++) {
			bool dup = false;
			for (uint32_t m = 0; m < n && !dup; m++)
				dup = strcmp(all[m], found.v[k]) == 0;
			/* A job never reads its own outputs through a glob. */
			if (!dup && strmap_get(&g->producer, found.v[k]) != job)
				all[n++] = arena_strdup(&g->arena, found.v[k]);
		}
		all[n] = NULL;
		job->inputs = all;
		job->n_inputs = n;
		strvec_release(&found);
		sb_release(&err);
	}
}
