/*
 * JSON string escaping shared by the library's results and the command line's own JSON
 * lines: whatever the bytes, the output is a valid JSON string.
 */
#ifndef CRP_JSON_ESC_H
#define CRP_JSON_ESC_H

#include <stddef.h>

/* Receives escaped output piece by piece (n bytes at s, not NUL-terminated). */
typedef void (*crp_json_put)(void *ud, const char *s, size_t n);

/*
 * Writes s (NUL-terminated; NULL is written as null) as a quoted JSON string through put:
 * '"' and '\\' escaped, control characters (U+0000-U+001F, U+007F) as \n, \t, \r or \u00XX,
 * valid UTF-8 copied as is, and each byte that does not start or continue a well-formed
 * UTF-8 sequence (overlong forms, surrogates and code points past U+10FFFF included) replaced
 * by U+FFFD. Nothing is allocated.
 */
void crp_json_escape(const char *s, crp_json_put put, void *ud);

/* The most bytes crp_json_escape_to writes for a string of n bytes. */
#define CRP_JSON_ESCAPED_MAX(n) (6 * (n) + 4)

/*
 * The same escaping as crp_json_escape (the same bytes), written straight into dst, which
 * must hold CRP_JSON_ESCAPED_MAX(strlen(s)) bytes; no NUL is added. Returns the bytes written.
 * For hot paths (one JSON line per decision): no callback per piece.
 */
size_t crp_json_escape_to(char *dst, const char *s);

/* crp_json_escape_to for a string whose length n is known: s[n] must be its NUL (UTF-8
 * checks may look at it) and s[0..n) holds no NUL. */
size_t crp_json_escape_n(char *dst, const char *s, size_t n);

#endif
