/* xmldoc.h - the documents of the cpu kind's xslt task, parsed as
 * xmlReadFile(path, NULL, options) parses them, with each external DTD
 * parsed once per worker instead of once per document.
 *
 * A DocBook 4.5 article spends most of its parse in the DTD and its entity
 * files. A parser keeps, for each DTD it has loaded cleanly, the parsed
 * external subset and what the parse of that subset left in the parser
 * context (the default attributes and the attribute types the parser
 * applies to every start tag); a later document naming the same DTD
 * (DOCTYPE name, public and system identifiers, and the file the catalogs
 * resolve them to, unchanged on disk) gets that subset attached instead of
 * parsing it again. The entities' parsed contents, which libxml2 builds on
 * a document's first reference, are put back as the DTD's parse left them
 * when the document is released, so each document is parsed as on a fresh
 * DTD. A document with an internal subset, a DTD whose parse said anything
 * (a warning included) and a document whose parse said anything leave
 * nothing kept: they take, or cause the next document to take, the whole
 * parse. The files a DTD includes are read once, when it is first loaded:
 * a change to them during the run is not seen.
 *
 * One parser belongs to one worker and is used by one thread at a time,
 * one document at a time. Out of memory in libxml2 makes a document fail
 * as it would in xmlReadFile.
 */
#ifndef JUGGLE_JOBS_XMLDOC_H
#define JUGGLE_JOBS_XMLDOC_H

#include <libxml/tree.h>

struct xmldoc_parser;

/* A parser reading with libxml2's options (XML_PARSE_*). The caller frees
 * it with xmldoc_parser_free(); NULL when libxml2 cannot make a parser
 * context. */
struct xmldoc_parser *xmldoc_parser_new(int options);
void xmldoc_parser_free(struct xmldoc_parser *p);

/* The document at path, or NULL when it cannot be read or is not
 * well-formed; what libxml2 says goes to this thread's structured error
 * handler, as with xmlReadFile(). diags points to the number of
 * diagnostics that handler has received on this thread (the caller's
 * handler counts them): a DTD is kept only when nothing was said while it
 * was parsed and while the first document using it was. The document
 * stays the parser's: give it back with xmldoc_release(), never
 * xmlFreeDoc(), before the next xmldoc_read(). Its tree may be changed
 * (XInclude, a transform) but not its DTDs. */
xmlDocPtr xmldoc_read(struct xmldoc_parser *p, const char *path, const unsigned long *diags);

/* Frees the document xmldoc_read() returned (NULL is ignored). */
void xmldoc_release(struct xmldoc_parser *p, xmlDocPtr doc);

#endif
