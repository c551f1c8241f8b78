/* An error outside every protected call of the IVR's Lua state (a bug of ours, never a
 * script's: scripts run inside protected calls) aborts the process, and says so in the
 * host's log first: a Kamailio worker's stderr may go nowhere. White-box: it raises the error
 * on the driver's state itself, in a child process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cr_rgs_xml.h"
#include "lua_int.h"

static void to_pipe(void *ud, int64_t now_ms, const char *line)
{
    int fd = *(int *)ud;
    (void)now_ms;
    if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0)
        _exit(3);
}

/* Raises an unprotected error on an open driver's state in a child; returns what the child
 * logged (the pipe's text) and its wait status. */
static void raise_in_child(bool with_log, char *got, size_t cap, int *status)
{
    char dir[] = "/tmp/crluapanicXXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/rg.xml", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>\n"
          "<workflow name=\"A\" uri=\"sip:a@test\" type=\"ivr\" script=\"a.lua\"/>\n"
          "</responseGroups></callroute>\n",
          fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/a.lua", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("call:hangup('done')\n", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/rg.xml", dir);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        cr_rgs_config *cfg;
        cr_diag d;
        cr_diag_init(&d);
        if (cr_rgs_xml_load(path, &cfg, &d) != CR_OK)
            _exit(4);
        cr_lua_options lo = {.log = with_log ? to_pipe : NULL, .log_ud = &p[1]};
        cr_lua_ivr *ivr;
        char err[256];
        if (cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err) != CR_OK)
            _exit(5);
        if (!with_log) /* the message goes to stderr: the pipe */
            dup2(p[1], 2);
        lua_pushstring(ivr->L, "boom \"quoted\"");
        lua_error(ivr->L); /* no protected call: the panic handler */
        _exit(6);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(p[0], got + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    got[n] = 0;
    close(p[0]);
    assert_int_equal(waitpid(pid, status, 0), pid);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_panic_goes_to_the_host_log(void **state)
{
    (void)state;
    char got[1024];
    int status;
    raise_in_child(true, got, sizeof got, &status);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    assert_string_equal(got, "ivr_panic error=\"boom \"quoted\"\"\n");
}

static void test_panic_without_a_log_goes_to_stderr(void **state)
{
    (void)state;
    char got[1024];
    int status;
    raise_in_child(false, got, sizeof got, &status);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    assert_non_null(strstr(got, "callroute: unprotected Lua error: boom \"quoted\"\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panic_goes_to_the_host_log),
        cmocka_unit_test(test_panic_without_a_log_goes_to_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
