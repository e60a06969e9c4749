/* uptodate.c - the make-like rules: why a job must run; see uptodate.h.
 *
 * Inputs and outputs are compared by content. stat() decides alone when
 * mtime and size match the record; otherwise the content hash does, so a
 * touch without a change rebuilds nothing, and a rewrite with the same
 * bytes (ninja's restat) does not ripple downstream.
 */
#define _GNU_SOURCE
#include "engine/uptodate.h"

#include <stdlib.h>
#include <string.h>

#include "engine/kind.h"

static const struct file_sig *rec_file(const struct state_rec *rec, uint32_t from, uint32_t n,
				       const char *path)
{
	for (uint32_t i = from; i < from + n; i++)
		if (strcmp(rec->files[i].path, path) == 0)
			return &rec->files[i];
	return NULL;
}

/* Whether path is made by one of job's dependencies whose run, pending
 * says, is still to come. */
static bool made_by_pending(const struct job *job, const char *path,
			    bool (*pending)(const struct job *dep, void *ctx), void *ctx)
{
	for (uint32_t i = 0; pending && i < job->n_deps; i++) {
		const struct job *dep = job->deps[i];
		if (!pending(dep, ctx))
			continue;
		for (uint32_t k = 0; k < dep->n_outputs; k++)
			if (strcmp(dep->outputs[k], path) == 0 ||
			    (job_output_is_dir(dep, k) && path_inside(path, dep->outputs[k])))
				return true;
	}
	return false;
}

char *job_out_of_date(const struct job *job, struct state *st, bool always_make)
{
	return job_out_of_date_before(job, st, always_make, NULL, NULL);
}

char *job_out_of_date_before(const struct job *job, struct state *st, bool always_make,
			     bool (*pending)(const struct job *dep, void *ctx), void *ctx)
{
	if (always_make)
		return xstrdup("-B treats every job as out of date");
	if (job->sec->always)
		return xstrdup("always = yes");
	const struct state_rec *rec = state_find(st, job->name);
	if (!rec)
		return xstrdup("it has never succeeded");
	if (memcmp(rec->fp, job->fp, 16) != 0)
		return xstrdup("its definition changed");
	for (uint32_t i = 0; i < job->n_outputs; i++) {
		const struct file_sig *known = rec_file(rec, rec->n_in, rec->n_out, job->outputs[i]);
		/* A tree is signed over its files: its folder's own stat says
		 * nothing of a file changed inside it. */
		const struct file_sig *now = job_output_is_dir(job, i)
						     ? state_tree_sig(st, job->outputs[i])
						     : state_sig(st, job->outputs[i], known);
		if (!now)
			return xasprintf("output '%s' is missing", job->outputs[i]);
		if (!known || memcmp(known->hash, now->hash, 16) != 0)
			return xasprintf("output '%s' was changed outside juggle", job->outputs[i]);
	}
	if (rec->n_in != job->n_inputs)
		return xasprintf("its inputs changed (%u then, %u now)", rec->n_in, job->n_inputs);
	for (uint32_t i = 0; i < job->n_inputs; i++) {
		const struct file_sig *known = rec_file(rec, 0, rec->n_in, job->inputs[i]);
		if (!known)
			return xasprintf("'%s' is a new input", job->inputs[i]);
		/* What a job still to run will write is not known yet. */
		if (made_by_pending(job, job->inputs[i], pending, ctx))
			continue;
		const struct file_sig *now = job_input_is_tree(job, job->inputs[i])
						     ? state_tree_sig(st, job->inputs[i])
						     : state_sig(st, job->inputs[i], known);
		if (!now)
			return xasprintf("input '%s' is missing", job->inputs[i]);
		if (memcmp(known->hash, now->hash, 16) != 0)
			return xasprintf("input '%s' changed", job->inputs[i]);
	}
	for (uint32_t i = 0; i < job->n_deps; i++) {
		const struct job *dep = job->deps[i];
		if (pending && pending(dep, ctx))
			continue;
		/* The producer of a foreach's list or folder: a changed list
		 * makes its new items, which are new jobs; the others stand. */
		bool lister = false;
		for (uint32_t k = 0; job->sec->dyn_source && k < dep->n_outputs && !lister; k++)
			lister = strcmp(dep->outputs[k], job->sec->dyn_source) == 0;
		if (lister)
			continue;
		if (dep->run.changed)
			return xasprintf("dependency '%s' changed in this run", dep->name);
		const struct state_rec *drec = state_find(st, dep->name);
		if (drec && drec->changed_seq > rec->ok_seq)
			return xasprintf("dependency '%s' changed since it last ran", dep->name);
	}
	const char *stale = job->sec->kind->stale ? job->sec->kind->stale(job) : NULL;
	if (stale)
		return xstrdup(stale);
	return NULL;
}
