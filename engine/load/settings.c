/* settings.c - values as keys take them, [settings] and [pool] sections. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "engine/backends/backend.h"
#include "engine/expand.h"
#include "engine/graph.h"
#include "engine/load/load-internal.h"
#include "engine/priority.h"
#include "engine/report/archive.h"

static const char *const progress_names[] = {"auto", "tty", "plain", "none", NULL};

int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A decimal number from 0 to hi; NaN and infinities are refused. */
static int parse_bounded(const char *s, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > hi)
		return -1;
	*out = v;
	return 0;
}

int parse_seconds(const char *s, double *out)
{
	return parse_bounded(s, 1e7, out);
}

int parse_load(const char *s, double *out)
{
	return parse_bounded(s, 100000, out);
}

int parse_bytes(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mult = 1;
	if (*end && !end[1]) {
		switch (*end) {
		case 'k':
		case 'K':
			mult = 1ULL << 10;
			break;
		case 'm':
		case 'M':
			mult = 1ULL << 20;
			break;
		case 'g':
		case 'G':
			mult = 1ULL << 30;
			break;
		case 't':
		case 'T':
			mult = 1ULL << 40;
			break;
		default:
			return -1;
		}
		end++;
	}
	if (errno || end == s || *end || v > (unsigned long long)INT64_MAX / mult)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_yes_no(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1", NULL};
	static const char *const no[] = {"no", "false", "off", "0", NULL};
	if (in_list(yes, s))
		*out = true;
	else if (in_list(no, s))
		*out = false;
	else
		return -1;
	return 0;
}

/* Expands ${} in every value of kvs; reports errors with where. Returns
 * the number of errors. */
size_t expand_kvs(struct loader *L, struct kv *kvs, size_t n, const char *where)
{
	size_t errors = 0;
	struct strbuf out = {0}, err = {0};
	for (size_t i = 0; i < n; i++) {
		if (kvs[i].failed) {
			kvs[i].val = "";
			errors++;
			continue;
		}
		if (!strchr(kvs[i].raw, '$')) {
			kvs[i].val = kvs[i].raw;
			continue;
		}
		sb_reset(&out);
		sb_reset(&err);
		if (expand_vars(L->g, kvs[i].raw, &out, &err) < 0) {
			if (err.len)
				diag_add(L->d, L->file, kvs[i].line, "%s%s: %s", where, kvs[i].key,
				         sb_str(&err));
			kvs[i].val = "";
			kvs[i].failed = true;
			errors++;
		} else {
			kvs[i].val = arena_strdup(&L->g->arena, sb_str(&out));
		}
	}
	sb_release(&out);
	sb_release(&err);
	return errors;
}

/* The setting key, NULL when absent or failed (its error was reported:
 * the setting keeps its default, and its empty value says nothing more). */
static const struct kv *find_kv(const struct kv *kvs, size_t n, const char *key)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(kvs[i].key, key) == 0)
			return kvs[i].failed ? NULL : &kvs[i];
	return NULL;
}

/* [settings] under the command line, with ${vars} expanded. */
void load_settings(struct loader *L)
{
	struct graph *g = L->g;
	const struct settings *cli = &L->o->cli;
	struct settings *s = &g->settings;
	struct kv *kvs = L->settings.v;
	size_t n = L->settings.n;
	struct strbuf out = {0}, err = {0};

	/* backend and jobs first: the other values may use ${backend}, ${jobs}. */
	s->backend = cli->backend;
	const struct kv *kv = find_kv(kvs, n, "backend");
	if (!s->backend && kv) {
		if (expand_vars(g, kv->raw, &out, &err) < 0) {
			if (err.len)
				diag_add(L->d, L->file, kv->line, "backend: %s", sb_str(&err));
		} else
			s->backend = arena_strdup(&g->arena, sb_str(&out));
	}
	if (s->backend && kv && s->backend != cli->backend && !backend_by_name(s->backend)) {
		const char *near = backend_closest_name(s->backend);
		if (near) {
			diag_add(L->d, L->file, kv->line,
			         "backend: unknown backend '%s' (did you mean '%s'?)", s->backend,
			         near);
		} else {
			struct strbuf names = {0};
			backend_names_join(&names, ", ", false);
			diag_add(L->d, L->file, kv->line,
			         "backend: unknown backend '%s' (use one of: %s)", s->backend,
			         sb_str(&names));
			sb_release(&names);
		}
	}
	if (!s->backend)
		s->backend = backend_default->name;
	s->jobs = cli->jobs;
	kv = find_kv(kvs, n, "jobs");
	if (s->jobs <= 0 && kv) {
		sb_reset(&out);
		sb_reset(&err);
		long v;
		if (expand_vars(g, kv->raw, &out, &err) < 0) {
			if (err.len)
				diag_add(L->d, L->file, kv->line, "jobs: %s", sb_str(&err));
		} else if (parse_long(sb_str(&out), 1, 100000, &v) < 0)
			diag_add(L->d, L->file, kv->line,
			         "jobs: '%s' is not a number of jobs (1 to 100000)", sb_str(&out));
		else
			s->jobs = (int)v;
	}
	s->jobs_given = s->jobs > 0;
	if (s->jobs <= 0)
		s->jobs = L->o->default_jobs > 0 ? L->o->default_jobs : 1;

	/* The rest, expanded now that ${backend} and ${jobs} are known. */
	struct kv *rest = xcalloc(n ? n : 1, sizeof(*rest));
	size_t nrest = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(kvs[i].key, "backend") != 0 && strcmp(kvs[i].key, "jobs") != 0)
			rest[nrest++] = kvs[i];
	expand_kvs(L, rest, nrest, "");
	for (size_t i = 0; i < nrest; i++)
		if (!in_list(settings_keys, rest[i].key))
			VEC_PUSH(&s->kind, rest[i]);
	s->net_jobs = cli->net_jobs;
	s->keep_going = cli->keep_going;
#define STR_SETTING(f)                                                                             \
	do {                                                                                       \
		s->f = cli->f;                                                                     \
		const struct kv *k_ = find_kv(rest, nrest, #f);                                    \
		if (!s->f && k_)                                                                   \
			s->f = k_->val;                                                            \
	} while (0)
	STR_SETTING(report);
	STR_SETTING(html);
	STR_SETTING(trace);
	STR_SETTING(junit);
	STR_SETTING(archive);
	STR_SETTING(progress);
	STR_SETTING(order);
	STR_SETTING(slurm_partition);
	STR_SETTING(slurm_args);
	STR_SETTING(slurm_mode);
	STR_SETTING(slurm_nodes);
	STR_SETTING(slurm_tasks);
	STR_SETTING(slurm_time);
	STR_SETTING(slurm_listen);
	STR_SETTING(slurm_submit_rate);
	STR_SETTING(slurm_idle);
#undef STR_SETTING
	/* Values checked here get the file and line; the same values from
	 * the command line are checked where they are used. */
	kv = find_kv(rest, nrest, "progress");
	if (kv && s->progress == kv->val && !in_list(progress_names, kv->val))
		diag_add(L->d, L->file, kv->line, "progress: '%s' is not auto, tty, plain or none",
		         kv->val);
	kv = find_kv(rest, nrest, "order");
	enum run_order order;
	if (kv && s->order == kv->val && run_order_parse(kv->val, &order) < 0)
		diag_add(L->d, L->file, kv->line, "order: '%s' is not critical or file", kv->val);
	kv = find_kv(rest, nrest, "slurm_mode");
	if (kv && s->slurm_mode == kv->val && strcmp(kv->val, "steps") != 0 &&
	    strcmp(kv->val, "allocation") != 0)
		diag_add(L->d, L->file, kv->line, "slurm_mode: '%s' is not steps or allocation",
		         kv->val);
	kv = find_kv(rest, nrest, "slurm_submit_rate");
	if (kv && s->slurm_submit_rate == kv->val) {
		char *end;
		double r = strtod(kv->val, &end);
		if (end == kv->val || *end || !(r > 0) || r > 1e6)
			diag_add(L->d, L->file, kv->line,
			         "slurm_submit_rate: '%s' is not a number of submissions a second "
			         "(more than 0)",
			         kv->val);
	}
	kv = find_kv(rest, nrest, "slurm_idle");
	if (kv && s->slurm_idle == kv->val) {
		char *end;
		double v = strtod(kv->val, &end);
		if (end == kv->val || *end || !(v > 0) || v > 1e6)
			diag_add(L->d, L->file, kv->line,
			         "slurm_idle: '%s' is not a number of seconds (more than 0): how "
			         "long an allocation's workers may all be idle before it is "
			         "released",
			         kv->val);
	}
	kv = find_kv(rest, nrest, "slurm_tasks");
	long tasks;
	if (kv && s->slurm_tasks == kv->val && parse_long(kv->val, 1, 100000, &tasks) < 0)
		diag_add(L->d, L->file, kv->line,
		         "slurm_tasks: '%s' is not a number of tasks (1 to 100000)", kv->val);
	kv = find_kv(rest, nrest, "archive");
	if (kv && s->archive == kv->val) {
		enum run_archive_format fmt;
		sb_reset(&err);
		if (run_archive_format(kv->val, &fmt, &err) < 0)
			diag_add(L->d, L->file, kv->line, "%s", sb_str(&err));
	}
	kv = find_kv(rest, nrest, "archive_on_failure");
	if (kv && strcmp(kv->val, "none") == 0)
		s->archive_on_failure_none = true;
	else if (kv && strcmp(kv->val, "partial") != 0)
		diag_add(L->d, L->file, kv->line, "archive_on_failure: '%s' is not partial or none",
		         kv->val);
	kv = find_kv(rest, nrest, "net_jobs");
	if (s->net_jobs <= 0 && kv) {
		long v;
		if (parse_long(kv->val, 1, 100000, &v) < 0)
			diag_add(L->d, L->file, kv->line,
			         "net_jobs: '%s' is not a number of downloads (1 to 100000)",
			         kv->val);
		else
			s->net_jobs = (int)v;
	}
	if (s->net_jobs <= 0)
		s->net_jobs = 32;
	kv = find_kv(rest, nrest, "keep_going");
	if (s->keep_going < 0 && kv) {
		bool b;
		if (parse_yes_no(kv->val, &b) < 0)
			diag_add(L->d, L->file, kv->line, "keep_going: '%s' is not yes or no",
			         kv->val);
		else
			s->keep_going = b;
	}
	if (s->keep_going < 0)
		s->keep_going = 0;
	s->load = cli->load;
	kv = find_kv(rest, nrest, "load");
	if (s->load < 0 && kv) {
		double v;
		if (parse_load(kv->val, &v) < 0)
			diag_add(L->d, L->file, kv->line,
			         "load: '%s' is not a load average (a number from 0 to 100000; 0: "
			         "no limit)",
			         kv->val);
		else
			s->load = v;
	}
	if (s->load < 0)
		s->load = 0;
	s->jobserver = !cli->no_jobserver;
	kv = find_kv(rest, nrest, "jobserver");
	if (kv) {
		bool b;
		if (parse_yes_no(kv->val, &b) < 0)
			diag_add(L->d, L->file, kv->line, "jobserver: '%s' is not yes or no",
			         kv->val);
		else if (!b)
			s->jobserver = false;
	}
	kv = find_kv(rest, nrest, "stale");
	if (kv && strcmp(kv->val, "remove") == 0)
		s->stale_remove = true;
	else if (kv && strcmp(kv->val, "keep") != 0)
		diag_add(L->d, L->file, kv->line, "stale: '%s' is not keep or remove", kv->val);
	free(rest);
	sb_release(&out);
	sb_release(&err);
}

/* The machine's memory (MemTotal, through sysinfo()) in whole GiB, at
 * least 1. MemTotal rather than MemAvailable: a depth is fixed when the
 * graph loads, and what is available then says little about the rest of
 * the run, while a depth that moved with it would make the same graph
 * load or fail by the moment. */
static long memory_gib_here(void)
{
	struct sysinfo si;
	if (sysinfo(&si) < 0)
		return 1;
	unsigned long long gib = (unsigned long long)si.totalram * si.mem_unit >> 30;
	return gib < 1 ? 1 : gib > 100000 ? 100000 : (long)gib;
}

void load_pools(struct loader *L)
{
	struct graph *g = L->g;
	/* Pool keys were collected in one list, in file order; assign by line. */
	for (size_t p = 0; p < g->pools.n; p++) {
		struct pool *pool = g->pools.v[p];
		int next_line = p + 1 < g->pools.n ? g->pools.v[p + 1]->line : INT_MAX;
		const struct kv *depth = NULL;
		for (size_t i = 0; i < L->pool_kvs.n; i++)
			if (L->pool_kvs.v[i].line > pool->line && L->pool_kvs.v[i].line < next_line)
				depth = &L->pool_kvs.v[i];
		if (depth && depth->failed)
			continue;
		if (!depth) {
			diag_add(L->d, L->file, pool->line, "pool '%s': missing key 'depth'",
			         pool->name);
			continue;
		}
		struct strbuf out = {0}, err = {0};
		long v;
		if (expand_vars(g, depth->raw, &out, &err) < 0) {
			if (err.len)
				diag_add(L->d, L->file, depth->line, "pool '%s': depth: %s",
				         pool->name, sb_str(&err));
		} else if (strcmp(sb_str(&out), "cpus") == 0)
			pool->depth = (int)cpus_usable();
		else if (strcmp(sb_str(&out), "memory_gib") == 0)
			pool->depth = (int)memory_gib_here();
		else if (parse_long(sb_str(&out), 1, 100000, &v) < 0)
			diag_add(L->d, L->file, depth->line,
			         "pool '%s': depth '%s' is not a number from 1 to 100000, cpus or "
			         "memory_gib",
			         pool->name, sb_str(&out));
		else
			pool->depth = (int)v;
		sb_release(&out);
		sb_release(&err);
	}
}
