/* glob.c - see glob.h. */
#define _GNU_SOURCE
#include "engine/glob.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_COMPONENTS 128

bool glob_has_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Splits a copy of s at '/' into comps; returns the count or -1. */
static int split_path(char *s, char **comps)
{
	int n = 0;
	for (char *p = strtok(s, "/"); p; p = strtok(NULL, "/")) {
		if (n == MAX_COMPONENTS)
			return -1;
		comps[n++] = p;
	}
	return n;
}

/* Whether pattern components pc match path components sc. A table of
 * m[i][j] = "pc[i..] matches sc[j..]", filled from the end, keeps many
 * '**' polynomial (np x ns cells) where trying every split would take
 * exponential time. */
static bool match_comps(char **pc, int np, char **sc, int ns)
{
	size_t w = (size_t)ns + 1;
	bool *m = xcalloc(((size_t)np + 1) * w, sizeof(*m));
	m[(size_t)np * w + (size_t)ns] = true;
	for (int i = np - 1; i >= 0; i--) {
		bool *row = m + (size_t)i * w, *next = row + w;
		bool deep = strcmp(pc[i], "**") == 0;
		for (int j = ns; j >= 0; j--) {
			if (deep) /* none, or one more folder ('**' skips hidden ones) */
				row[j] = next[j] || (j < ns && sc[j][0] != '.' && row[j + 1]);
			else
				row[j] = j < ns && next[j + 1] && fnmatch(pc[i], sc[j], FNM_PERIOD) == 0;
		}
	}
	bool ok = m[0];
	free(m);
	return ok;
}

bool glob_match(const char *pattern, const char *path)
{
	char *p = xstrdup(pattern), *s = xstrdup(path);
	char *pc[MAX_COMPONENTS], *sc[MAX_COMPONENTS];
	int np = split_path(p, pc), ns = split_path(s, sc);
	bool ok = np >= 0 && ns >= 0 && (pattern[0] == '/') == (path[0] == '/') &&
		  match_comps(pc, np, sc, ns);
	free(p);
	free(s);
	return ok;
}

size_t glob_prefix_len(const char *pattern)
{
	size_t keep = 0;
	for (const char *p = pattern; *p;) {
		const char *slash = strchr(p, '/');
		if (!slash)
			break;
		size_t n = (size_t)(slash - p);
		char *comp = xstrndup(p, n);
		bool magic = glob_has_magic(comp);
		free(comp);
		if (magic)
			break;
		keep = (size_t)(slash - pattern) + 1;
		p = slash + 1;
	}
	return keep;
}

struct walk {
	const char *pattern;
	int depth_limit; /* folders below the prefix; -1: no limit ('**') */
	size_t found;
	size_t entries; /* folder entries read, against GLOB_MAX_ENTRIES */
	struct strvec *out;
};

static int walk(struct walk *w, const char *dir, const char *shown, int depth,
		struct strbuf *err)
{
	DIR *d = opendir(*dir ? dir : ".");
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		sb_addf(err, "cannot read folder '%s': %s", *dir ? dir : ".", strerror(errno));
		return -1;
	}
	VEC(char *) names = {0};
	struct dirent *e;
	while ((e = readdir(d))) {
		if (++w->entries > GLOB_MAX_ENTRIES) {
			sb_addf(err, "pattern '%s' reads over %d folder entries (the limit on one glob's work)",
				w->pattern, GLOB_MAX_ENTRIES);
			closedir(d);
			for (size_t i = 0; i < names.n; i++)
				free(names.v[i]);
			free(names.v);
			return -1;
		}
		if (e->d_name[0] == '.' && (!e->d_name[1] || strcmp(e->d_name, "..") == 0 ||
					    strcmp(e->d_name, ".juggle") == 0))
			continue;
		VEC_PUSH(&names, xstrdup(e->d_name));
	}
	closedir(d);
	int rc = 0;
	for (size_t i = 0; i < names.n; i++) {
		char *path = xasprintf("%s%s", shown, names.v[i]);
		struct stat st;
		/* Symbolic links to files count; to folders they are not
		 * followed, so a link loop cannot trap '**'. */
		bool ok = rc == 0 && lstat(path, &st) == 0 &&
			  (!S_ISLNK(st.st_mode) || (stat(path, &st) == 0 && S_ISREG(st.st_mode)));
		if (ok) {
			if (S_ISREG(st.st_mode) && glob_match(w->pattern, path)) {
				VEC_PUSH(w->out, path);
				path = NULL;
				if (++w->found > 10000000) {
					sb_addf(err, "pattern '%s' matches over ten million files",
						w->pattern);
					rc = -1;
				}
			} else if (S_ISDIR(st.st_mode) &&
				   (w->depth_limit < 0 || depth < w->depth_limit)) {
				char *sub = xasprintf("%s/", path);
				rc = walk(w, path, sub, depth + 1, err);
				free(sub);
			}
		}
		free(path);
		free(names.v[i]);
	}
	free(names.v);
	return rc;
}

int glob_disk(const char *pattern, struct strvec *out, struct strbuf *err)
{
	size_t plen = glob_prefix_len(pattern);
	char *prefix = xstrndup(pattern, plen);
	int comps = 0;
	bool deep = false;
	for (const char *p = pattern + plen; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && strncmp(p, "**", 2) == 0)
			deep = true;
		comps++;
		if (!slash)
			break;
		p = slash + 1;
	}
	struct walk w = {pattern, deep ? -1 : comps - 1, 0, 0, out};
	char *dir = plen ? xstrndup(prefix, plen - 1) : xstrdup("");
	if (plen == 1) { /* pattern "/x": the root folder */
		free(dir);
		dir = xstrdup("/");
	}
	int rc = walk(&w, dir, prefix, 0, err);
	free(dir);
	free(prefix);
	return rc;
}
