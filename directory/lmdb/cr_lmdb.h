/*
 * LMDB, loaded the first time a process opens an environment (cr_lmdb_load), not when
 * libcallroute is loaded: a host whose plan names no user directory and keeps no response-group
 * state (a Kamailio restart that only maps a compiled plan) does not map liblmdb at start. Every
 * LMDB function callroute calls is reached through a pointer named sym_<function> (systemd's
 * dlopen pattern, as cr_libxml.h does for libxml2), and this header redirects each name to its
 * pointer after including lmdb.h, so the code reads as plain LMDB.
 *
 * Include this header instead of lmdb.h. A function missing from the list is an undefined
 * symbol of libcallroute.so, which tests/abi/symbols.sh refuses.
 */
#ifndef CR_LMDB_H
#define CR_LMDB_H

#include <lmdb.h>

/* Every LMDB function callroute calls. */
#define CR_LMDB_FUNCTIONS(X)                                                                       \
    X(mdb_cursor_close)                                                                            \
    X(mdb_cursor_get)                                                                              \
    X(mdb_cursor_open)                                                                             \
    X(mdb_dbi_open)                                                                                \
    X(mdb_del)                                                                                     \
    X(mdb_drop)                                                                                    \
    X(mdb_env_close)                                                                               \
    X(mdb_env_create)                                                                              \
    X(mdb_env_get_fd)                                                                              \
    X(mdb_env_get_flags)                                                                           \
    X(mdb_env_info)                                                                                \
    X(mdb_env_open)                                                                                \
    X(mdb_env_set_mapsize)                                                                         \
    X(mdb_env_set_maxdbs)                                                                          \
    X(mdb_env_set_maxreaders)                                                                      \
    X(mdb_env_stat)                                                                                \
    X(mdb_get)                                                                                     \
    X(mdb_put)                                                                                     \
    X(mdb_stat)                                                                                    \
    X(mdb_strerror)                                                                                \
    X(mdb_txn_abort)                                                                               \
    X(mdb_txn_begin)                                                                               \
    X(mdb_txn_commit)                                                                              \
    X(mdb_txn_id)                                                                                  \
    X(mdb_txn_renew)                                                                               \
    X(mdb_txn_reset)

#define CR_LMDB_DECLARE(name) extern __typeof__(name) *sym_##name;
CR_LMDB_FUNCTIONS(CR_LMDB_DECLARE)
#undef CR_LMDB_DECLARE

/* Loads liblmdb and finds every function above, once per process (thread-safe). Returns 0,
 * or -1 with *why (when not NULL) set to a static message naming the library and what failed;
 * a later call returns the same answer. Call it before an environment is created. */
int cr_lmdb_load(const char **why);

#ifndef CR_LMDB_NO_REDIRECT /* (the loader itself names the functions) */
/* From here on every LMDB name above is its pointer. */
#define mdb_cursor_close       sym_mdb_cursor_close
#define mdb_cursor_get         sym_mdb_cursor_get
#define mdb_cursor_open        sym_mdb_cursor_open
#define mdb_dbi_open           sym_mdb_dbi_open
#define mdb_del                sym_mdb_del
#define mdb_drop               sym_mdb_drop
#define mdb_env_close          sym_mdb_env_close
#define mdb_env_create         sym_mdb_env_create
#define mdb_env_get_fd         sym_mdb_env_get_fd
#define mdb_env_get_flags      sym_mdb_env_get_flags
#define mdb_env_info           sym_mdb_env_info
#define mdb_env_open           sym_mdb_env_open
#define mdb_env_set_mapsize    sym_mdb_env_set_mapsize
#define mdb_env_set_maxdbs     sym_mdb_env_set_maxdbs
#define mdb_env_set_maxreaders sym_mdb_env_set_maxreaders
#define mdb_env_stat           sym_mdb_env_stat
#define mdb_get                sym_mdb_get
#define mdb_put                sym_mdb_put
#define mdb_stat               sym_mdb_stat
#define mdb_strerror           sym_mdb_strerror
#define mdb_txn_abort          sym_mdb_txn_abort
#define mdb_txn_begin          sym_mdb_txn_begin
#define mdb_txn_commit         sym_mdb_txn_commit
#define mdb_txn_id             sym_mdb_txn_id
#define mdb_txn_renew          sym_mdb_txn_renew
#define mdb_txn_reset          sym_mdb_txn_reset
#endif

#endif
