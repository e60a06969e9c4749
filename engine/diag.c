/* diag.c - see diag.h. */
#include "engine/diag.h"

#include <stdlib.h>

static char *format(const char *file, int line, const char *fmt, va_list ap)
{
	struct strbuf sb = {0};
	if (file && line > 0)
		sb_addf(&sb, "%s:%d: ", file, line);
	else if (file)
		sb_addf(&sb, "%s: ", file);
	sb_vaddf(&sb, fmt, ap);
	return sb_detach(&sb);
}

void diag_vadd(struct diag *d, const char *file, int line, const char *fmt, va_list ap)
{
	size_t limit = d->limit ? d->limit : 50;
	if (d->msgs.n >= limit)
		return;
	VEC_PUSH(&d->msgs, format(file, line, fmt, ap));
}

void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	size_t limit = d->limit ? d->limit : 50;
	if (d->warnings.n >= limit)
		return;
	va_list ap;
	va_start(ap, fmt);
	VEC_PUSH(&d->warnings, format(file, line, fmt, ap));
	va_end(ap);
}

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(d, file, line, fmt, ap);
	va_end(ap);
}

size_t diag_count(const struct diag *d)
{
	return d->msgs.n;
}

void diag_release(struct diag *d)
{
	for (size_t i = 0; i < d->msgs.n; i++)
		free(d->msgs.v[i]);
	free(d->msgs.v);
	d->msgs.v = NULL;
	d->msgs.n = d->msgs.cap = 0;
	for (size_t i = 0; i < d->warnings.n; i++)
		free(d->warnings.v[i]);
	free(d->warnings.v);
	d->warnings.v = NULL;
	d->warnings.n = d->warnings.cap = 0;
}
