/* section.c - a job section's common keys, checked and parsed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expand.h"
#include "engine/glob.h"
#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load-internal.h"

/* The keys a batched job expands once per item (the others once per batch). */
static const char *const per_item_keys[] = {"input", "output", "after", NULL};

/* The keys that give a job its shape: which placeholders its keys may
 * use, and what its kind's check reads besides the kind's own keys. */
static const char *const shape_keys[] = {"foreach", "input", "output", "output_dir", "batch", NULL};

/* Checks which placeholders each key may use, given the job's shape. */
static void check_placeholders(struct loader *L, struct section *sec)
{
	bool glob = sec->foreach == FE_GLOB;
	bool each = sec->foreach != FE_NONE;
	const struct kv *in = section_key(sec, "input");
	const struct kv *out = section_key(sec, "output");
	bool has_in = glob || (in && *in->val);
	/* After join_output_dir(), a folder output is a word of output ending
	 * in '/' (or quoted, "'DIR/'"). */
	bool has_dir = out && (strstr(out->val, "/ ") || strstr(out->val, "/'") ||
			       (*out->val && out->val[strlen(out->val) - 1] == '/'));
	/* batch = 1 is the plain job, so a graph can switch with -s batch=N. */
	bool batched = sec->batch > 1;
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		unsigned used = kv->failed ? 0 : placeholders_used(kv->val);
		if (!used)
			continue;
		unsigned bad = 0;
		const char *why = "";
		if (strcmp(kv->key, "foreach") == 0) {
			bad = used;
			why = "foreach is expanded before any placeholder has a value";
		} else if (batched && !in_list(per_item_keys, kv->key) &&
			   (used & ~(unsigned)(PH_INPUTS | PH_OUTPUTS))) {
			bad = used & ~(unsigned)(PH_INPUTS | PH_OUTPUTS);
			why = "a batched job stands for several items; use {inputs} and {outputs}";
		} else if ((used & (PH_ITEM | PH_REL | PH_RELSTEM)) && !each) {
			bad = used & (PH_ITEM | PH_REL | PH_RELSTEM);
			why = "the job has no foreach";
		} else if ((strcmp(kv->key, "output") == 0 || strcmp(kv->key, "output_dir") == 0) &&
			   (used & (PH_OUTPUT | PH_OUTPUTS | PH_OUTPUT_DIR))) {
			bad = used & (PH_OUTPUT | PH_OUTPUTS | PH_OUTPUT_DIR);
			why = "an output cannot name itself";
		} else if (strcmp(kv->key, "input") == 0 &&
			   (used & (PH_INPUTS | (glob ? 0 : PH_INPUT | PH_DIR | PH_NAME | PH_STEM)))) {
			bad = used & (PH_INPUTS | PH_INPUT | PH_DIR | PH_NAME | PH_STEM);
			why = "an input cannot name the inputs (only a glob foreach's match)";
		} else if ((used & (PH_INPUT | PH_INPUTS | PH_DIR | PH_NAME | PH_STEM)) && !has_in) {
			bad = used & (PH_INPUT | PH_INPUTS | PH_DIR | PH_NAME | PH_STEM);
			why = "the job has no input and no glob foreach";
		} else if ((used & (PH_OUTPUT | PH_OUTPUTS)) && !(out && *out->val)) {
			bad = used & (PH_OUTPUT | PH_OUTPUTS);
			why = "the job has no output";
		} else if ((used & PH_OUTPUT_DIR) && !has_dir) {
			bad = PH_OUTPUT_DIR;
			why = "the job has no folder output (output_dir, or an output ending in '/')";
		}
		for (unsigned bit = 1; bad && bit <= PH_OUTPUT_DIR; bit <<= 1) {
			if (bad & bit) {
				jerr(L, kv->line, sec->name, "%s: %s cannot be used here: %s",
				     kv->key, placeholder_name(bit), why);
				break;
			}
		}
	}
}

/* One NAME[:WEIGHT] of pool or pools; 0, or -1 after reporting it. */
static int pool_word(struct loader *L, struct section *sec, const struct kv *kv, const char *word,
		     struct pool_use *use)
{
	const char *colon = strchr(word, ':');
	size_t len = colon ? (size_t)(colon - word) : strlen(word);
	long weight = 1;
	if (colon && parse_long(colon + 1, 1, 100000, &weight) < 0) {
		jerr(L, kv->line, sec->name,
		     "%s: weight '%s' of pool '%.*s' is not a whole number from 1 to 100000",
		     kv->key, colon + 1, (int)len, word);
		return -1;
	}
	struct pool *pool = NULL;
	for (size_t p = 0; p < L->g->pools.n && !pool; p++)
		if (strlen(L->g->pools.v[p]->name) == len &&
		    strncmp(L->g->pools.v[p]->name, word, len) == 0)
			pool = L->g->pools.v[p];
	if (!pool) {
		jerr(L, kv->line, sec->name,
		     "pool '%.*s' is not defined (add a [pool %.*s] section with a depth)",
		     (int)len, word, (int)len, word);
		return -1;
	}
	for (int i = 0; i < sec->n_pools; i++) {
		if (sec->pools[i].pool == pool) {
			jerr(L, kv->line, sec->name,
			     "%s: pool '%s' is named twice (give it once, with the sum of the "
			     "weights)",
			     kv->key, pool->name);
			return -1;
		}
	}
	/* depth 0: its own line was reported already. */
	if (pool->depth > 0 && weight > pool->depth) {
		jerr(L, kv->line, sec->name,
		     "%s: weight %ld in pool '%s' is above its depth %d (line %d), so the job "
		     "could never start; lower the weight or raise the depth",
		     kv->key, weight, pool->name, pool->depth, pool->line);
		return -1;
	}
	use->pool = pool;
	use->weight = (int)weight;
	return 0;
}

/* pool = NAME[:WEIGHT], pools = NAME[:WEIGHT] ...: the pools the section's
 * jobs take, added to sec->pools (both keys may be given). */
static void take_pools(struct loader *L, struct section *sec, const struct kv *kv)
{
	struct strbuf err = {0};
	char **w = split_words(kv->val, &err);
	size_t n = w ? count_words(w) : 0;
	if (!w)
		jerr(L, kv->line, sec->name, "%s: %s", kv->key, sb_str(&err));
	else if (n == 0)
		jerr(L, kv->line, sec->name, "%s is empty: name a [pool NAME]", kv->key);
	else if (n > 1 && strcmp(kv->key, "pool") == 0)
		jerr(L, kv->line, sec->name,
		     "pool names one pool; for several, write pools = %s", kv->val);
	if (w && n && !(n > 1 && strcmp(kv->key, "pool") == 0)) {
		struct pool_use *all =
			arena_alloc(&L->g->arena, sizeof(*all) * ((size_t)sec->n_pools + n));
		if (sec->n_pools)
			memcpy(all, sec->pools, sizeof(*all) * (size_t)sec->n_pools);
		sec->pools = all;
		for (size_t i = 0; i < n; i++)
			if (pool_word(L, sec, kv, w[i], &sec->pools[sec->n_pools]) == 0)
				sec->n_pools++;
	}
	free_words(w);
	sb_release(&err);
}

/* output_dir = DIR is output = DIR/ (a folder output, engine/outtree.h)
 * added to the section's outputs, so the rest of the loader sees one key. */
static void join_output_dir(struct loader *L, struct section *sec, struct kv odir)
{
	if (!*odir.val) {
		jerr(L, odir.line, sec->name, "output_dir is empty");
		return;
	}
	struct strbuf sb = {0}, dir = {0};
	struct kv *out = NULL;
	for (size_t i = 0; i < sec->keys.n; i++)
		if (strcmp(sec->keys.v[i].key, "output") == 0)
			out = &sec->keys.v[i];
	if (out && *out->val)
		sb_addf(&sb, "%s ", out->val);
	sb_addf(&dir, "%s/", odir.val);
	shell_quote(sb_str(&dir), &sb);
	const char *val = arena_strdup(&L->g->arena, sb_str(&sb));
	if (out) {
		out->val = val;
	} else {
		struct kv kv = odir;
		kv.key = "output";
		kv.val = val;
		kv.cut_line = 0;
		/* The keys are an exactly sized array in the graph's arena
		 * (end_section()), which VEC_PUSH cannot grow: a new one. */
		struct kvvec *k = &sec->keys;
		struct kv *v = arena_alloc(&L->g->arena, sizeof(*v) * (k->n + 1));
		if (k->n)
			memcpy(v, k->v, sizeof(*v) * k->n);
		if (k->cap)
			free(k->v);
		v[k->n] = kv;
		k->v = v;
		k->n++;
		k->cap = 0; /* owned by the arena */
	}
	sb_release(&sb);
	sb_release(&dir);
}

void load_section(struct loader *L, struct section *sec)
{
	char where[200];
	snprintf(where, sizeof(where), "job '%s': ", sec->name);
	expand_kvs(L, sec->keys.v, sec->keys.n, where);
	/* A failed key (struct kv.failed) was reported once: its empty value
	 * is not parsed, and what it decides is left unchecked, so that one
	 * mistake is one error ("missing key" would be a false second one). */
	bool shape_failed = false, kind_key_failed = false;
	sec->retry_delay = 1;
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		const char *k = kv->key, *v = kv->val;
		long n;
		if (kv->failed) {
			if (in_list(shape_keys, k))
				shape_failed = kind_key_failed = true;
			else if (!in_list(common_keys, k))
				kind_key_failed = true;
			continue;
		}
		if (strcmp(k, "retries") == 0) {
			if (parse_long(v, 0, 1000, &n) < 0)
				jerr(L, kv->line, sec->name,
				     "retries: '%s' is not a number from 0 to 1000", v);
			else
				sec->retries = (int)n;
		} else if (strcmp(k, "retry_delay") == 0) {
			if (parse_seconds(v, &sec->retry_delay) < 0)
				jerr(L, kv->line, sec->name,
				     "retry_delay: '%s' is not a number of seconds", v);
		} else if (strcmp(k, "timeout") == 0) {
			if (parse_seconds(v, &sec->timeout) < 0 || sec->timeout <= 0)
				jerr(L, kv->line, sec->name,
				     "timeout: '%s' is not a positive number of seconds", v);
		} else if (strcmp(k, "always") == 0) {
			if (parse_yes_no(v, &sec->always) < 0)
				jerr(L, kv->line, sec->name, "always: '%s' is not yes or no", v);
		} else if (strcmp(k, "description") == 0) {
			sec->description = v;
		} else if (strcmp(k, "when") == 0) {
			if (strcmp(v, "success") == 0)
				sec->when = WHEN_SUCCESS;
			else if (strcmp(v, "all_done") == 0)
				sec->when = WHEN_ALL_DONE;
			else if (strcmp(v, "any_failed") == 0)
				sec->when = WHEN_ANY_FAILED;
			else
				jerr(L, kv->line, sec->name,
				     "when: '%s' is not success, all_done or any_failed", v);
		} else if (strcmp(k, "batch") == 0) {
			if (parse_long(v, 1, 100000, &n) < 0)
				jerr(L, kv->line, sec->name,
				     "batch: '%s' is not a number of items from 1 to 100000", v);
			else
				sec->batch = (int)n;
		} else if (strcmp(k, "pool") == 0 || strcmp(k, "pools") == 0) {
			take_pools(L, sec, kv);
		} else if (strcmp(k, "foreach") == 0) {
			if (!*v) {
				jerr(L, kv->line, sec->name, "foreach is empty");
			} else if (strncmp(v, "lines:", 6) == 0) {
				sec->foreach = FE_LINES;
				sec->foreach_arg = v + 6;
			} else if (strncmp(v, "range:", 6) == 0) {
				sec->foreach = FE_RANGE;
				sec->foreach_arg = v + 6;
			} else if (strncmp(v, "list:", 5) == 0) {
				sec->foreach = FE_LIST;
				sec->foreach_arg = v + 5;
			} else {
				sec->foreach = FE_GLOB;
				char *norm = path_normalize(v);
				sec->foreach_arg = arena_strdup(&L->g->arena, norm);
				free(norm);
				sec->glob_prefix = arena_strndup(
					&L->g->arena, sec->foreach_arg,
					glob_prefix_len(sec->foreach_arg));
			}
		}
	}
	const struct kv *batch = section_key(sec, "batch");
	if (batch && !shape_failed && sec->foreach == FE_NONE)
		jerr(L, batch->line, sec->name,
		     "batch needs a foreach: it hands N foreach items to one job");
	else if (batch && !batch->failed && !sec->kind->batchable) {
		struct strbuf kinds = {0};
		for (size_t i = 0; job_kinds[i]; i++)
			if (job_kinds[i]->batchable)
				sb_addf(&kinds, "%s%s", kinds.len ? ", " : "", job_kinds[i]->name);
		jerr(L, batch->line, sec->name,
		     "batch: a %s job takes one item at a time (batch is for %s jobs)",
		     sec->kind->name, sb_str(&kinds));
		sb_release(&kinds);
	}
	const struct kv *odir = section_key(sec, "output_dir");
	if (odir && !odir->failed && !shape_failed)
		join_output_dir(L, sec, *odir);
	if (!shape_failed)
		check_placeholders(L, sec);
	/* After an unknown key, "missing key" is usually the same typo again. */
	if (sec->kind->check && !sec->bad_keys && !kind_key_failed)
		sec->kind->check(L->g, sec, L->d);
}
