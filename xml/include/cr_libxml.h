/*
 * libxml2, loaded the first time a process reads XML (cr_libxml_load), not when the library
 * is loaded. libxml2 brings ICU and libstdc++ with it: about 1.1 ms of a start that only maps a
 * compiled plan image (a Kamailio restart) and never reads XML. Every libxml2 function
 * callroute calls is reached through a pointer named sym_<function> (systemd's dlopen
 * pattern), filled by cr_libxml_load; nothing else of libxml2 is linked.
 *
 * Include this header instead of libxml2's own. Call cr_libxml_load before the first sym_
 * call (the entry points that read XML do: the configuration walk, the schema check, the user
 * directory's import); a node exists only once a document was read, so the node helpers need
 * not.
 */
#ifndef CR_LIBXML_H
#define CR_LIBXML_H

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>

/* Every libxml2 function callroute calls. */
#define CR_LIBXML_FUNCTIONS(X)                                                                     \
    X(xmlCopyDoc)                                                                                  \
    X(xmlCtxtReadMemory)                                                                           \
    X(xmlDocGetRootElement)                                                                        \
    X(xmlFreeDoc)                                                                                  \
    X(xmlFreeNode)                                                                                 \
    X(xmlFreeParserCtxt)                                                                           \
    X(xmlFreeTextReader)                                                                           \
    X(xmlGetLineNo)                                                                                \
    X(xmlGetNoNsProp)                                                                              \
    X(xmlInitParser)                                                                               \
    X(xmlNewNs)                                                                                    \
    X(xmlNewParserCtxt)                                                                            \
    X(xmlNodeGetContent)                                                                           \
    X(xmlReaderForIO)                                                                              \
    X(xmlRelaxNGFree)                                                                              \
    X(xmlRelaxNGFreeParserCtxt)                                                                    \
    X(xmlRelaxNGFreeValidCtxt)                                                                     \
    X(xmlRelaxNGNewMemParserCtxt)                                                                  \
    X(xmlRelaxNGNewValidCtxt)                                                                      \
    X(xmlRelaxNGParse)                                                                             \
    X(xmlRelaxNGSetValidStructuredErrors)                                                          \
    X(xmlRelaxNGValidateDoc)                                                                       \
    X(xmlSAX2CDataBlock)                                                                           \
    X(xmlSAX2Characters)                                                                           \
    X(xmlSAX2Comment)                                                                              \
    X(xmlSAX2EndElementNs)                                                                         \
    X(xmlSAX2ProcessingInstruction)                                                                \
    X(xmlSAX2Reference)                                                                            \
    X(xmlSAX2StartElementNs)                                                                       \
    X(xmlStopParser)                                                                               \
    X(xmlTextReaderCurrentNode)                                                                    \
    X(xmlTextReaderExpand)                                                                         \
    X(xmlTextReaderGetParserLineNumber)                                                            \
    X(xmlTextReaderNext)                                                                           \
    X(xmlTextReaderNodeType)                                                                       \
    X(xmlTextReaderRead)                                                                           \
    X(xmlTextReaderSetStructuredErrorHandler)                                                      \
    X(xmlUnlinkNode)

#define CR_LIBXML_DECLARE(name) extern __typeof__(name) *sym_##name;
CR_LIBXML_FUNCTIONS(CR_LIBXML_DECLARE)
#undef CR_LIBXML_DECLARE

/* libxml2's deallocator (its variable xmlFree), for the strings its functions return. */
void cr_libxml_free(void *p);

/* Loads libxml2 and finds every function above, once per process (thread-safe), and runs
 * xmlInitParser. Returns 0, or -1 with *why (when not NULL) set to a static message naming the
 * library and what failed; a later call returns the same answer. */
int cr_libxml_load(const char **why);

#endif
