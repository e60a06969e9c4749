/* xmldoc.c - documents parsed as xmlReadFile() parses them, each external
 * DTD parsed once per worker (xmldoc.h says what is kept and when).
 *
 * How libxml2 parses a document with DTD loading on (XML_PARSE_DTDLOAD,
 * DTDATTR, NOENT), as read in 2.9.14, and what this file relies on:
 *   - the SAX handler's externalSubset() is called once, after the
 *     internal subset; xmlSAX2ExternalSubset() resolves the DTD, creates
 *     doc->extSubset and parses the declarations into it;
 *   - the parse of an ATTLIST with a default also records the default in
 *     the parser context (attsDefault), and every typed attribute in
 *     attsSpecial: that is where a start tag gets its defaulted attributes
 *     and the normalisation of its tokenised values, not from the DTD;
 *     libxml2 itself lends these two tables to the contexts it makes for
 *     entities, as this file lends them to the next document;
 *   - the body reads the DTD (entities, ID attributes) and changes only
 *     its general entities: the first reference parses an entity's
 *     replacement into ent->children and sets ent->checked and
 *     ent->owner; restoring those three makes the DTD as its parse left
 *     it (a reference that fails also blanks the entity's content, but
 *     that is an error, and a document with any diagnostic drops the DTD).
 * Everything a kept DTD holds is interned in the parser context's
 * dictionary, so the context, and its dictionary, live as long as the DTDs
 * they parsed; a kept DTD belongs between documents to a document of its
 * own (holder) on that dictionary, which frees it.
 */
#define _GNU_SOURCE
#include <libxml/SAX2.h>
#include <libxml/dict.h>
#include <libxml/entities.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlIO.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/util.h"
#include "jobs/xmldoc.h"

/* A worker converting documents of several DTDs keeps the last few. */
#define KEPT_DTDS 4

/* libxml2 refuses to grow a parser's dictionary past 10 MB
 * (XML_MAX_DICTIONARY_LIMIT) without XML_PARSE_HUGE; a worker's documents
 * all intern their names in one, so past this size the parser starts over
 * with a new context, dictionary and DTDs. */
#define DICT_RENEW_BYTES ((size_t)4 << 20)

struct ent_state {
	xmlEntityPtr ent;
	int checked, owner;
};

struct kept_dtd {
	/* What names the DTD: the DOCTYPE's name and identifiers, the file
	 * the catalogs resolved them to, and that file as it was then. */
	char *name, *public_id, *system_id, *file;
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns, size;

	xmlDocPtr holder; /* owns dtd between documents; NULL while the
			     document that parsed it still does */
	xmlDtdPtr dtd;
	xmlHashTablePtr atts_default, atts_special;
	VEC(struct ent_state) ents; /* the general entities as parsed */
	bool ents_built;            /* one had content already: not kept */
	/* What the DTD's parse added to the context's entity accounting,
	 * and left in ctxt->external. */
	unsigned long nbentities, sizeentities, sizeentcopy;
	int external;
};

struct xmldoc_parser {
	int options;
	xmlParserCtxtPtr ctxt;
	VEC(struct kept_dtd *) kept; /* oldest first */
	xmlParserInputPtr (*resolve)(void *, const xmlChar *, const xmlChar *);

	/* During a read */
	const unsigned long *diags;
	xmlParserInputPtr resolved; /* handed to xmlSAX2ExternalSubset */

	/* The document given out and not yet released */
	xmlDocPtr doc;
	struct kept_dtd *lent;  /* a kept DTD attached to it */
	bool spoilt;            /* lent, and its document said something */
	struct kept_dtd *fresh; /* its own DTD, to keep when it is released */
};

static char *dup_or_null(const xmlChar *s)
{
	return s ? xstrdup((const char *)s) : NULL;
}

static bool same_str(const char *a, const xmlChar *b)
{
	return (!a && !b) || (a && b && strcmp(a, (const char *)b) == 0);
}

/* stat() of the file an input was opened from: its name is a path or,
 * from the catalogs, a file: URL (libxml2 opens file://localhost/P,
 * file:///P and a path, %-escapes decoded). -1 for anything else. */
static int stat_resolved(const char *name, struct stat *st)
{
	if (strncmp(name, "file://localhost/", 17) == 0)
		name += 16;
	else if (strncmp(name, "file:///", 8) == 0)
		name += 7;
	else if (strchr(name, ':'))
		return -1;
	char *path = xmalloc(strlen(name) + 1), *o = path;
	for (const char *c = name; *c; c++) {
		int hi, lo;
		if (c[0] == '%' && (hi = hex_digit(c[1])) >= 0 && (lo = hex_digit(c[2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			c += 2;
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	int rc = strlen(path) == (size_t)(o - path) ? stat(path, st) : -1;
	free(path);
	return rc;
}

static void kept_free(struct kept_dtd *k)
{
	if (!k)
		return;
	if (k->holder)
		xmlFreeDoc(k->holder); /* and k->dtd */
	if (k->atts_default)
		xmlHashFree(k->atts_default, xmlHashDefaultDeallocator);
	if (k->atts_special)
		xmlHashFree(k->atts_special, NULL);
	free(k->name);
	free(k->public_id);
	free(k->system_id);
	free(k->file);
	free(k->ents.v);
	free(k);
}

static void forget_all(struct xmldoc_parser *p)
{
	for (size_t i = 0; i < p->kept.n; i++)
		kept_free(p->kept.v[i]);
	p->kept.n = 0;
}

static void drop(struct xmldoc_parser *p, struct kept_dtd *k)
{
	for (size_t i = 0; i < p->kept.n; i++)
		if (p->kept.v[i] == k) {
			memmove(&p->kept.v[i], &p->kept.v[i + 1],
				(p->kept.n - i - 1) * sizeof(p->kept.v[0]));
			p->kept.n--;
			break;
		}
	kept_free(k);
}

static void note_entity(void *payload, void *data, const xmlChar *name)
{
	(void)name;
	struct kept_dtd *k = data;
	xmlEntityPtr ent = payload;
	if (ent->children)
		k->ents_built = true;
	VEC_PUSH(&k->ents, ((struct ent_state){ent, ent->checked, ent->owner}));
}

/* The entities as the DTD's parse left them. Content parsed for this
 * document is freed if the entity owns it (copies, whose document is the
 * entity's) and forgotten if the document does (nodes of its tree). */
static void restore_entities(struct kept_dtd *k)
{
	for (size_t i = 0; i < k->ents.n; i++) {
		xmlEntityPtr ent = k->ents.v[i].ent;
		if (ent->children && ent->owner)
			xmlFreeNodeList(ent->children);
		ent->children = ent->last = NULL;
		ent->checked = k->ents.v[i].checked;
		ent->owner = k->ents.v[i].owner;
	}
}

struct retarget {
	xmlDocPtr from, to;
};

static void retarget_node(void *payload, void *data, const xmlChar *name)
{
	(void)name;
	struct retarget *r = data;
	xmlNodePtr n = payload; /* declarations share xmlNode's first fields */
	if (n->doc == r->from)
		n->doc = r->to;
}

/* Moves dtd from the document that parsed it to to: every declaration
 * (linked in the DTD's children or only in its tables) and every comment
 * or PI of the subset names its document, whose dictionary frees it. */
static void retarget(xmlDtdPtr dtd, xmlDocPtr from, xmlDocPtr to)
{
	struct retarget r = {from, to};
	dtd->doc = to;
	for (xmlNodePtr n = dtd->children; n; n = n->next)
		retarget_node(n, &r, NULL);
	if (dtd->elements)
		xmlHashScan(dtd->elements, retarget_node, &r);
	if (dtd->attributes)
		xmlHashScan(dtd->attributes, retarget_node, &r);
	if (dtd->entities)
		xmlHashScan(dtd->entities, retarget_node, &r);
	if (dtd->pentities)
		xmlHashScan(dtd->pentities, retarget_node, &r);
}

/* Keeps k, whose DTD is doc's extSubset, in a holder of its own. */
static bool keep(struct xmldoc_parser *p, struct kept_dtd *k, xmlDocPtr doc)
{
	xmlDocPtr holder = xmlNewDoc((const xmlChar *)"1.0");
	if (!holder)
		return false;
	holder->dict = doc->dict;
	xmlDictReference(holder->dict);
	doc->extSubset = NULL;
	holder->extSubset = k->dtd;
	retarget(k->dtd, doc, holder);
	k->holder = holder;
	if (p->kept.n == KEPT_DTDS)
		drop(p, p->kept.v[0]);
	VEC_PUSH(&p->kept, k);
	return true;
}

/* The DTD's input, resolved before xmlSAX2ExternalSubset() would resolve
 * it again: the first call returns it, later ones (none in libxml2
 * 2.9.14, which loads the DTD's own files otherwise) resolve as usual. */
static xmlParserInputPtr hand_over(void *ctx, const xmlChar *public_id, const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xmldoc_parser *p = ctxt ? ctxt->_private : NULL;
	if (!p)
		return xmlSAX2ResolveEntity(ctx, public_id, system_id);
	xmlParserInputPtr in = p->resolved;
	if (in) {
		p->resolved = NULL;
		return in;
	}
	return p->resolve(ctx, public_id, system_id);
}

static void on_external_subset(void *ctx, const xmlChar *name, const xmlChar *public_id,
			       const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xmldoc_parser *p = ctxt ? ctxt->_private : NULL;
	xmlDocPtr doc = ctxt ? ctxt->myDoc : NULL;
	/* Only a document whose DOCTYPE declares nothing of its own, read
	 * by this parser: its context then holds nothing from a DTD yet. */
	if (!p || ctxt != p->ctxt || !p->diags || !doc || (!public_id && !system_id) ||
	    !ctxt->wellFormed || ctxt->validate || !ctxt->loadsubset || doc->extSubset ||
	    (doc->intSubset && doc->intSubset->children) || ctxt->attsDefault ||
	    ctxt->attsSpecial || ctxt->inputNr != 1 || doc->dict != ctxt->dict ||
	    ctxt->sax->resolveEntity != hand_over || p->lent || p->fresh) {
		xmlSAX2ExternalSubset(ctx, name, public_id, system_id);
		return;
	}
	xmlParserInputPtr in = p->resolve(ctx, public_id, system_id);
	if (!in)
		return; /* as xmlSAX2ExternalSubset(): no DTD */
	struct stat st;
	if (!in->filename || stat_resolved(in->filename, &st) < 0) {
		p->resolved = in;
		xmlSAX2ExternalSubset(ctx, name, public_id, system_id);
		if (p->resolved) {
			xmlFreeInputStream(p->resolved);
			p->resolved = NULL;
		}
		return;
	}
	int64_t mtime = time_ns(&st.st_mtim);
	for (size_t i = 0; i < p->kept.n; i++) {
		struct kept_dtd *k = p->kept.v[i];
		if (!same_str(k->name, name) || !same_str(k->public_id, public_id) ||
		    !same_str(k->system_id, system_id) || strcmp(k->file, in->filename) != 0)
			continue;
		if (k->dev != st.st_dev || k->ino != st.st_ino || k->mtime_ns != mtime ||
		    k->size != (int64_t)st.st_size) {
			drop(p, k); /* the file changed: parsed again below */
			break;
		}
		xmlFreeInputStream(in);
		doc->extSubset = k->dtd;
		ctxt->attsDefault = k->atts_default;
		ctxt->attsSpecial = k->atts_special;
		ctxt->nbentities += k->nbentities;
		ctxt->sizeentities += k->sizeentities;
		ctxt->sizeentcopy += k->sizeentcopy;
		ctxt->external = k->external;
		p->lent = k;
		return;
	}
	struct kept_dtd *k = xcalloc(1, sizeof(*k));
	k->file = xstrdup(in->filename);
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->mtime_ns = mtime;
	k->size = (int64_t)st.st_size;
	unsigned long diags = *p->diags, nb = ctxt->nbentities, se = ctxt->sizeentities,
		      sc = ctxt->sizeentcopy;
	p->resolved = in;
	xmlSAX2ExternalSubset(ctx, name, public_id, system_id);
	if (p->resolved) { /* not taken: cannot happen, but not to leak */
		xmlFreeInputStream(p->resolved);
		p->resolved = NULL;
	}
	if (!doc->extSubset || *p->diags != diags || !ctxt->wellFormed ||
	    ctxt->instate == XML_PARSER_EOF) {
		kept_free(k);
		return;
	}
	k->name = dup_or_null(name);
	k->public_id = dup_or_null(public_id);
	k->system_id = dup_or_null(system_id);
	k->dtd = doc->extSubset;
	k->nbentities = ctxt->nbentities - nb;
	k->sizeentities = ctxt->sizeentities - se;
	k->sizeentcopy = ctxt->sizeentcopy - sc;
	k->external = ctxt->external;
	if (k->dtd->entities)
		xmlHashScan(k->dtd->entities, note_entity, k);
	if (k->ents_built) {
		k->dtd = NULL; /* the document's */
		kept_free(k);
		return;
	}
	p->fresh = k;
}

/* A new context (and dictionary), the kept DTDs forgotten. */
static bool renew(struct xmldoc_parser *p)
{
	forget_all(p);
	if (p->ctxt)
		xmlFreeParserCtxt(p->ctxt);
	p->ctxt = xmlNewParserCtxt();
	if (!p->ctxt)
		return false;
	p->ctxt->_private = p;
	p->resolve = p->ctxt->sax->resolveEntity;
	if (!p->resolve)
		p->resolve = xmlSAX2ResolveEntity;
	p->ctxt->sax->resolveEntity = hand_over;
	p->ctxt->sax->externalSubset = on_external_subset;
	return true;
}

struct xmldoc_parser *xmldoc_parser_new(int options)
{
	struct xmldoc_parser *p = xcalloc(1, sizeof(*p));
	p->options = options;
	if (!renew(p)) {
		free(p);
		return NULL;
	}
	return p;
}

void xmldoc_parser_free(struct xmldoc_parser *p)
{
	if (!p)
		return;
	xmldoc_release(p, p->doc);
	forget_all(p);
	free(p->kept.v);
	if (p->ctxt)
		xmlFreeParserCtxt(p->ctxt);
	free(p);
}

xmlDocPtr xmldoc_read(struct xmldoc_parser *p, const char *path, const unsigned long *diags)
{
	xmldoc_release(p, p->doc);
	if (!p->ctxt || xmlDictGetUsage(p->ctxt->dict) > DICT_RENEW_BYTES)
		if (!renew(p))
			return NULL;
	xmlParserCtxtPtr ctxt = p->ctxt;
	/* What xmlReadFile() does with a context of its own. */
	xmlCtxtReset(ctxt);
	xmlCtxtUseOptions(ctxt, p->options);
	unsigned long diags0 = *diags;
	xmlParserInputPtr in = xmlLoadExternalEntity(path, NULL, ctxt);
	if (!in || inputPush(ctxt, in) < 0)
		return NULL;
	if (!ctxt->directory)
		ctxt->directory = xmlParserGetDirectory(path);
	p->diags = diags;
	xmlParseDocument(ctxt);
	p->diags = NULL;
	xmlDocPtr doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	bool clean = doc && ctxt->wellFormed && *diags == diags0;
	if (p->lent) {
		/* The tables go back to the DTD, not to the next reset. */
		p->lent->atts_default = ctxt->attsDefault;
		p->lent->atts_special = ctxt->attsSpecial;
		ctxt->attsDefault = ctxt->attsSpecial = NULL;
		p->spoilt = !clean;
	} else if (p->fresh && clean) {
		p->fresh->atts_default = ctxt->attsDefault;
		p->fresh->atts_special = ctxt->attsSpecial;
		ctxt->attsDefault = ctxt->attsSpecial = NULL;
	} else if (p->fresh) {
		p->fresh->dtd = NULL; /* the document's */
		kept_free(p->fresh);
		p->fresh = NULL;
	}
	p->doc = doc;
	if (!doc || !ctxt->wellFormed) {
		xmldoc_release(p, doc);
		if (!doc && p->lent) { /* cannot happen: a lent DTD had a document */
			restore_entities(p->lent);
			drop(p, p->lent);
			p->lent = NULL;
		}
		return NULL;
	}
	return doc;
}

void xmldoc_release(struct xmldoc_parser *p, xmlDocPtr doc)
{
	if (!doc)
		return;
	if (doc == p->doc) {
		if (p->lent) {
			restore_entities(p->lent);
			if (doc->extSubset == p->lent->dtd)
				doc->extSubset = NULL;
			if (p->spoilt)
				drop(p, p->lent);
			p->lent = NULL;
			p->spoilt = false;
		}
		if (p->fresh) {
			struct kept_dtd *k = p->fresh;
			p->fresh = NULL;
			restore_entities(k);
			if (doc->extSubset != k->dtd || !keep(p, k, doc)) {
				k->dtd = NULL; /* the document's */
				kept_free(k);
			}
		}
		p->doc = NULL;
	}
	xmlFreeDoc(doc);
}
