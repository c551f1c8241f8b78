/*
 * When Kamailio is ready, to the tenth of a millisecond: asks its ctl socket for core.uptime
 * (one BINRPC request) every POLL_US microseconds until a reply comes, and prints the time of
 * that reply (CLOCK_REALTIME, seconds with nanoseconds, as `date +%s.%N` prints it). Start-up
 * measurements (kamailio_plan_memory.sh) use it instead of a shell loop that spawned kamcmd
 * every 10 ms, whose steps of about 11 ms were coarser than the difference being measured.
 *
 *   rpc_ready SOCKET PID [TIMEOUT_S] [POLL_US]
 *
 * Until the socket exists it waits for its directory to change (inotify) instead of asking:
 * Kamailio creates the socket in ctl's mod_init, before it forks, and the ctl process answers
 * once it runs (a request sent before then waits in the socket). So the probe takes no CPU
 * while Kamailio and the modules start (a probe asking every 0.1 ms took a good part of one
 * of two cores from them, and most from a module reading its plan on a thread meanwhile).
 *
 * Exit 0 with the time printed; 1 when PID exited first or TIMEOUT_S (30) passed; 2 on usage.
 */
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A BINRPC request (src/modules/ctl/binrpc.h): magic 0xA and version 1, type REQ with one-byte
 * length and cookie, body length 14, cookie 1, then the method as a string record of 12 bytes
 * (0x80 | one size byte | type STR) with its NUL. */
static const unsigned char request[] = {0xA1, 0x00, 0x0E, 0x01, 0x91, 0x0C, 'c', 'o', 'r',
                                        'e',  '.',  'u',  'p',  't',  'i',  'm', 'e', 0x00};

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One try: 1 when a BINRPC reply came, 0 otherwise (no socket yet, nobody serving it yet). */
static int ask(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, request, sizeof request, MSG_NOSIGNAL) == (ssize_t)sizeof request) {
        /* connected: the ctl process answers once it runs; wait for it a while */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        unsigned char reply[64];
        if (poll(&p, 1, 2000) == 1 && recv(fd, reply, sizeof reply, 0) >= 2)
            ok = reply[0] == 0xA1 && (reply[1] >> 4) == 1; /* BINRPC_REPL */
    }
    close(fd);
    return ok;
}

/* Until path exists (or PID is gone, or end passes): blocked on inotify over its directory,
 * waking every 50 ms to look at PID. Falls back to the caller's polling when inotify fails. */
static void wait_created(const char *path, pid_t pid, double end)
{
    char dir[sizeof((struct sockaddr_un *)0)->sun_path];
    snprintf(dir, sizeof dir, "%s", path);
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (in < 0)
        return;
    if (inotify_add_watch(in, dirname(dir), IN_CREATE | IN_MOVED_TO) < 0) {
        close(in);
        return;
    }
    struct stat st;
    while (stat(path, &st) != 0 && mono_s() < end && !(kill(pid, 0) != 0 && errno == ESRCH)) {
        struct pollfd p = {.fd = in, .events = POLLIN};
        if (poll(&p, 1, 50) == 1) {
            char buf[4096];
            while (read(in, buf, sizeof buf) > 0) {
            }
        }
    }
    close(in);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: rpc_ready SOCKET PID [TIMEOUT_S] [POLL_US]\n");
        return 2;
    }
    const char *path = argv[1];
    pid_t pid = (pid_t)atol(argv[2]);
    double timeout = argc > 3 ? atof(argv[3]) : 30;
    long poll_us = argc > 4 ? atol(argv[4]) : 100;
    if (strlen(path) >= sizeof((struct sockaddr_un *)0)->sun_path || pid <= 0 || poll_us <= 0) {
        fprintf(stderr, "rpc_ready: bad socket path, pid or poll interval\n");
        return 2;
    }
    double end = mono_s() + timeout;
    struct timespec nap = {.tv_sec = poll_us / 1000000, .tv_nsec = poll_us % 1000000 * 1000};
    wait_created(path, pid, end);
    while (mono_s() < end) {
        if (ask(path)) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            printf("%lld.%09ld\n", (long long)t.tv_sec, t.tv_nsec);
            return 0;
        }
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return 1;
        nanosleep(&nap, NULL);
    }
    return 1;
}
