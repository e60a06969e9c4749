/* xml.c - libxml2, libxslt and libexslt, loaded when the first xmlcheck
 * or xslt task, or a --junit report, needs them (engine/lazy/lazy.h says why and how). The lists
 * hold every function of theirs juggle calls, one list per library:
 * libxslt and libexslt need libxml2, which dlopen() then finds loaded.
 *
 * sonames: libxml2.so.2, libxslt.so.1 and libexslt.so.0 have been these
 * libraries' ABIs for two decades (Debian's libxml2, libxslt1.1).
 */
#include <libexslt/exslt.h>
#include <libxml/SAX2.h>
#include <libxml/catalog.h>
#include <libxml/dict.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xinclude.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <libxslt/security.h>
#include <libxslt/transform.h>
#include <libxslt/variables.h>
#include <libxslt/xslt.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include "engine/lazy/lazy.h"

#define LIB(var, so, pkg)                                                                          \
	static const char *const var##_names[] = {var##_FUNCS(LAZY_NAME, LAZY_NAME)};              \
	static void *var##_slots[ARRAY_LEN(var##_names)];                                          \
	static struct lazy_lib var = {                                                             \
		.soname = so,                                                                      \
		.needed_for = "xmlcheck and xslt tasks and JUnit reports",                                           \
		.package = pkg,                                                                    \
		.names = var##_names,                                                              \
		.count = ARRAY_LEN(var##_names),                                                   \
		.slots = var##_slots,                                                              \
		.once = PTHREAD_ONCE_INIT,                                                         \
	};
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define xml2_FUNCS(X, V)                                                                           \
	V(void, xmlInitParser, (void), ())                                                         \
	V(void, xmlInitializeCatalog, (void), ())                                                  \
	X(xmlParserCtxtPtr, xmlNewParserCtxt, (void), ())                                          \
	V(void, xmlFreeParserCtxt, (xmlParserCtxtPtr c), (c))                                      \
	X(xmlDocPtr, xmlCtxtReadFile, (xmlParserCtxtPtr c, const char *f, const char *enc, int o), \
	  (c, f, enc, o))                                                                          \
	X(xmlDocPtr, xmlReadFile, (const char *f, const char *enc, int o), (f, enc, o))            \
	V(void, xmlFreeDoc, (xmlDocPtr d), (d))                                                    \
	V(void, xmlCtxtReset, (xmlParserCtxtPtr c), (c))                                           \
	X(int, xmlCtxtUseOptions, (xmlParserCtxtPtr c, int o), (c, o))                             \
	X(xmlParserInputPtr, xmlLoadExternalEntity,                                                \
	  (const char *url, const char *id, xmlParserCtxtPtr c), (url, id, c))                     \
	X(int, inputPush, (xmlParserCtxtPtr c, xmlParserInputPtr in), (c, in))                     \
	V(void, xmlFreeInputStream, (xmlParserInputPtr in), (in))                                  \
	X(char *, xmlParserGetDirectory, (const char *f), (f))                                     \
	X(int, xmlParseDocument, (xmlParserCtxtPtr c), (c))                                        \
	V(void, xmlSAX2ExternalSubset,                                                             \
	  (void *c, const xmlChar *n, const xmlChar *pub, const xmlChar *sys), (c, n, pub, sys))   \
	X(xmlParserInputPtr, xmlSAX2ResolveEntity,                                                 \
	  (void *c, const xmlChar *pub, const xmlChar *sys), (c, pub, sys))                        \
	X(xmlDocPtr, xmlNewDoc, (const xmlChar *version), (version))                               \
	V(void, xmlFreeNodeList, (xmlNodePtr n), (n))                                              \
	X(int, xmlDictReference, (xmlDictPtr d), (d))                                              \
	X(size_t, xmlDictGetUsage, (xmlDictPtr d), (d))                                            \
	V(void, xmlHashScan, (xmlHashTablePtr t, xmlHashScanner f, void *data), (t, f, data))      \
	V(void, xmlHashFree, (xmlHashTablePtr t, xmlHashDeallocator f), (t, f))                    \
	V(void, xmlHashDefaultDeallocator, (void *entry, const xmlChar *name), (entry, name))      \
	X(int, xmlXIncludeProcessFlags, (xmlDocPtr d, int flags), (d, flags))                      \
	X(xmlParserInputPtr, xmlNoNetExternalEntityLoader,                                         \
	  (const char *url, const char *id, xmlParserCtxtPtr c), (url, id, c))                     \
	V(void, xmlSetExternalEntityLoader, (xmlExternalEntityLoader f), (f))                      \
	V(void, xmlSetStructuredErrorFunc, (void *ctx, xmlStructuredErrorFunc f), (ctx, f))        \
	X(int, xmlStrEqual, (const xmlChar *a, const xmlChar *b), (a, b))                          \
	X(int, xmlValidateQName, (const xmlChar *v, int space), (v, space))                        \
	X(xmlBufferPtr, xmlBufferCreate, (void), ())                                               \
	V(void, xmlBufferFree, (xmlBufferPtr b), (b))                                              \
	X(const xmlChar *, xmlBufferContent, (const xmlBuffer *b), (b))                            \
	X(int, xmlBufferLength, (const xmlBuffer *b), (b))                                         \
	X(xmlTextWriterPtr, xmlNewTextWriterMemory, (xmlBufferPtr b, int compression),             \
	  (b, compression))                                                                        \
	V(void, xmlFreeTextWriter, (xmlTextWriterPtr w), (w))                                      \
	X(int, xmlTextWriterSetIndent, (xmlTextWriterPtr w, int indent), (w, indent))              \
	X(int, xmlTextWriterSetIndentString, (xmlTextWriterPtr w, const xmlChar *s), (w, s))       \
	X(int, xmlTextWriterStartDocument,                                                         \
	  (xmlTextWriterPtr w, const char *version, const char *enc, const char *standalone),      \
	  (w, version, enc, standalone))                                                           \
	X(int, xmlTextWriterEndDocument, (xmlTextWriterPtr w), (w))                                \
	X(int, xmlTextWriterStartElement, (xmlTextWriterPtr w, const xmlChar *name), (w, name))    \
	X(int, xmlTextWriterEndElement, (xmlTextWriterPtr w), (w))                                 \
	X(int, xmlTextWriterWriteAttribute, (xmlTextWriterPtr w, const xmlChar *n,                 \
	                                     const xmlChar *v),                                    \
	  (w, n, v))                                                                               \
	X(int, xmlTextWriterWriteString, (xmlTextWriterPtr w, const xmlChar *s), (w, s))

#define xslt_FUNCS(X, V)                                                                           \
	V(void, xsltInit, (void), ())                                                              \
	X(xsltStylesheetPtr, xsltParseStylesheetDoc, (xmlDocPtr d), (d))                           \
	V(void, xsltFreeStylesheet, (xsltStylesheetPtr s), (s))                                    \
	X(xsltTransformContextPtr, xsltNewTransformContext, (xsltStylesheetPtr s, xmlDocPtr d),    \
	  (s, d))                                                                                  \
	V(void, xsltFreeTransformContext, (xsltTransformContextPtr c), (c))                        \
	X(int, xsltSetCtxtParseOptions, (xsltTransformContextPtr c, int o), (c, o))                \
	X(int, xsltQuoteUserParams, (xsltTransformContextPtr c, const char **p), (c, p))           \
	X(xmlDocPtr, xsltApplyStylesheetUser,                                                      \
	  (xsltStylesheetPtr s, xmlDocPtr d, const char **p, const char *out, FILE *prof,          \
	   xsltTransformContextPtr c),                                                             \
	  (s, d, p, out, prof, c))                                                                 \
	X(int, xsltSaveResultToFd, (int fd, xmlDocPtr r, xsltStylesheetPtr s), (fd, r, s))         \
	X(xsltSecurityPrefsPtr, xsltNewSecurityPrefs, (void), ())                                  \
	X(int, xsltSetSecurityPrefs, (xsltSecurityPrefsPtr p, xsltSecurityOption o,                \
	                              xsltSecurityCheck f),                                        \
	  (p, o, f))                                                                               \
	V(void, xsltSetDefaultSecurityPrefs, (xsltSecurityPrefsPtr p), (p))                        \
	X(int, xsltSecurityForbid, (xsltSecurityPrefsPtr p, xsltTransformContextPtr c,             \
	                            const char *v),                                                \
	  (p, c, v))                                                                               \
	V(void, xsltSetGenericErrorFunc, (void *ctx, xmlGenericErrorFunc f), (ctx, f))

#define exslt_FUNCS(X, V) V(void, exsltRegisterAll, (void), ())

enum { xml2_FUNCS(LAZY_SLOT, LAZY_SLOT) };
enum { xslt_FUNCS(LAZY_SLOT, LAZY_SLOT) };
enum { exslt_FUNCS(LAZY_SLOT, LAZY_SLOT) };
LIB(xml2, "libxml2.so.2", "libxml2")
LIB(xslt, "libxslt.so.1", "libxslt1.1")
LIB(exslt, "libexslt.so.0", "libxslt1.1")

#define XML2(ret, name, params, args)       LAZY_FORWARD(xml2, ret, name, params, args)
#define XML2_VOID(ret, name, params, args)  LAZY_FORWARD_VOID(xml2, ret, name, params, args)
#define XSLT(ret, name, params, args)       LAZY_FORWARD(xslt, ret, name, params, args)
#define XSLT_VOID(ret, name, params, args)  LAZY_FORWARD_VOID(xslt, ret, name, params, args)
#define EXSLT(ret, name, params, args)      LAZY_FORWARD(exslt, ret, name, params, args)
#define EXSLT_VOID(ret, name, params, args) LAZY_FORWARD_VOID(exslt, ret, name, params, args)
xml2_FUNCS(XML2, XML2_VOID)
xslt_FUNCS(XSLT, XSLT_VOID)
exslt_FUNCS(EXSLT, EXSLT_VOID)
