/* fingerprint.c - the fingerprint of each job's definition, which the state
 * log compares to tell that a job changed. */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load-internal.h"

/* Keys that change how a job is scheduled or shown, not what it makes;
 * they stay out of the fingerprint so editing them re-runs nothing. */
static const char *const unfingerprinted[] = {
	"description", "pool", "pools", "retries", "retry_delay", "timeout", NULL,
};

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = *(const struct kv *const *)a, *y = *(const struct kv *const *)b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->line - y->line;
}

/* The definition's fingerprint: kind, keys after ${} expansion (sorted,
 * minus the scheduling-only ones and those the kind also takes in
 * [settings], which say how it runs; of the kind's secret keys only the
 * name), item and match. */
void fingerprints(struct graph *g)
{
	EVP_MD_CTX *base = EVP_MD_CTX_new(), *ctx = EVP_MD_CTX_new();
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		const struct kv **sorted = xmalloc(sizeof(*sorted) * (sec->keys.n + 1));
		for (size_t i = 0; i < sec->keys.n; i++)
			sorted[i] = &sec->keys.v[i];
		qsort(sorted, sec->keys.n, sizeof(*sorted), cmp_kv);
		EVP_DigestInit_ex(base, md_sha256(), NULL);
		EVP_DigestUpdate(base, sec->kind->name, strlen(sec->kind->name) + 1);
		for (size_t i = 0; i < sec->keys.n; i++) {
			if (in_list(unfingerprinted, sorted[i]->key) ||
			    in_list(sec->kind->settings_keys, sorted[i]->key))
				continue;
			EVP_DigestUpdate(base, sorted[i]->key, strlen(sorted[i]->key) + 1);
			if (sec->kind->secret_keys && in_list(sec->kind->secret_keys, sorted[i]->key))
				continue; /* a rotated token is the same definition */
			EVP_DigestUpdate(base, sorted[i]->val, strlen(sorted[i]->val) + 1);
		}
		free(sorted);
		for (size_t j = 0; j < sec->n_jobs; j++) {
			struct job *job = g->jobs.v[sec->first_job + j];
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned int len;
			EVP_MD_CTX_copy_ex(ctx, base);
			/* A batch is defined by the items it stands for. */
			uint32_t n = job->members ? job->n_members : 1;
			for (uint32_t m = 0; m < n; m++) {
				const struct job *one = job->members ? job->members[m] : job;
				const char *item = one->item ? one->item : "";
				const char *match = one->match ? one->match : "";
				EVP_DigestUpdate(ctx, item, strlen(item) + 1);
				EVP_DigestUpdate(ctx, match, strlen(match) + 1);
			}
			EVP_DigestFinal_ex(ctx, md, &len);
			memcpy(job->fp, md, 16);
		}
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int len;
		EVP_DigestFinal_ex(base, md, &len);
	}
	EVP_MD_CTX_free(base);
	EVP_MD_CTX_free(ctx);
}
