/*
 * delaylink.c - a point-to-point link with a fixed one-way delay between
 * two network namespaces, for the latency benchmark (bench/latency.sh).
 *
 *   delaylink NS_A NS_B DEV DELAY_MS [LOSS_PERCENT]
 *
 * Each namespace (a name under /run/netns, as `ip netns add` makes them)
 * holds a TUN device named DEV (`ip tuntap add DEV mode tun`), addressed
 * point-to-point by the caller. Every packet read from one side is written
 * to the other DELAY_MS later, in order: DELAY_MS each way, twice that a
 * round trip, no rate limit. sch_netem would do the same in the kernel;
 * this kernel has none. Prints "ready" once both ends are open; SIGINT or
 * SIGTERM stops it.
 *
 * Loss: with LOSS_PERCENT (0 to 100, decimals allowed), SIGUSR1 starts
 * dropping that share of the packets read on either side, each on its own
 * draw, and SIGUSR2 stops it; the link starts without loss, so that one
 * link serves runs with and without. The draws come from a fixed seed:
 * the same packets in the same order lose the same ones.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_PACKET 65536
#define MAX_QUEUED_BYTES (64L * 1024 * 1024) /* beyond this a packet is dropped */

typedef struct packet {
    struct packet *next;
    long long due_ns;
    size_t len;
    unsigned char data[];
} packet;

typedef struct queue {
    packet *head, *tail;
    long bytes;
    unsigned long forwarded, dropped, lost;
} queue;

static volatile sig_atomic_t stop;
static volatile sig_atomic_t lossy;
static unsigned long loss_threshold; /* of 2^32: a draw below it is lost */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: a fixed sequence, so runs are repeatable. */
static unsigned long draw32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned long)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void on_loss(int sig)
{
    lossy = sig == SIGUSR1;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "delaylink: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
    exit(1);
}

/* Opens the TUN device dev inside the namespace ns, then returns to the
 * namespace we started in; the descriptor stays bound to the device. */
static int open_tun(const char *ns, const char *dev, int home)
{
    char path[PATH_MAX];
    struct ifreq ifr;
    int nsfd, fd;

    snprintf(path, sizeof path, "/run/netns/%s", ns);
    nsfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
        die("cannot open namespace", path);
    if (setns(nsfd, CLONE_NEWNET) != 0)
        die("cannot enter namespace", ns);
    close(nsfd);
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        die("cannot open", "/dev/net/tun");
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0)
        die("cannot attach to", dev);
    if (setns(home, CLONE_NEWNET) != 0)
        die("cannot return to the first namespace", NULL);
    return fd;
}

/* Reads every packet waiting on fd into q, due delay_ns from now. */
static void take(int fd, queue *q, long long delay_ns)
{
    static unsigned char buf[MAX_PACKET];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        packet *p;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            die("read", NULL);
        }
        if (n == 0)
            return;
        if (lossy && draw32() < loss_threshold) {
            q->lost++;
            continue;
        }
        if (q->bytes + n > MAX_QUEUED_BYTES || !(p = malloc(sizeof *p + (size_t)n))) {
            q->dropped++;
            continue;
        }
        p->next = NULL;
        p->due_ns = now_ns() + delay_ns;
        p->len = (size_t)n;
        memcpy(p->data, buf, (size_t)n);
        if (q->tail)
            q->tail->next = p;
        else
            q->head = p;
        q->tail = p;
        q->bytes += n;
    }
}

/* Writes the packets of q that are due to fd. */
static void give(int fd, queue *q, long long t)
{
    packet *p;
    while ((p = q->head) != NULL && p->due_ns <= t) {
        /* A full device queue drops the packet, as a link would; TCP
         * sends it again. */
        if (write(fd, p->data, p->len) < 0 && errno != EAGAIN && errno != ENOBUFS)
            die("write", NULL);
        q->head = p->next;
        if (!q->head)
            q->tail = NULL;
        q->bytes -= (long)p->len;
        q->forwarded++;
        free(p);
    }
}

int main(int argc, char **argv)
{
    int home, fd[2];
    queue q[2]; /* q[i]: read from side i, to be written to the other side */
    long long delay_ns;
    char *end;
    long ms;
    struct sigaction sa;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: delaylink NS_A NS_B DEV DELAY_MS [LOSS_PERCENT]\n");
        return 2;
    }
    ms = strtol(argv[4], &end, 10);
    if (*end || ms < 0 || ms > 10000) {
        fprintf(stderr, "delaylink: DELAY_MS must be 0..10000\n");
        return 2;
    }
    delay_ns = ms * 1000000LL;
    if (argc == 6) {
        double pct = strtod(argv[5], &end);
        if (*end || end == argv[5] || !(pct >= 0 && pct <= 100)) {
            fprintf(stderr, "delaylink: LOSS_PERCENT must be 0..100\n");
            return 2;
        }
        loss_threshold = (unsigned long)(pct / 100.0 * 4294967295.0);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_loss;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0)
        die("cannot open", "/proc/self/ns/net");
    fd[0] = open_tun(argv[1], argv[3], home);
    fd[1] = open_tun(argv[2], argv[3], home);
    memset(q, 0, sizeof q);
    printf("ready\n");
    fflush(stdout);

    while (!stop) {
        struct pollfd pf[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
        struct timespec ts, *tp = NULL;
        long long t = now_ns(), next = -1;
        int i;
        for (i = 0; i < 2; i++)
            if (q[i].head && (next < 0 || q[i].head->due_ns < next))
                next = q[i].head->due_ns;
        if (next >= 0) {
            long long wait = next > t ? next - t : 0;
            ts.tv_sec = (time_t)(wait / 1000000000LL);
            ts.tv_nsec = (long)(wait % 1000000000LL);
            tp = &ts;
        }
        if (ppoll(pf, 2, tp, NULL) < 0 && errno != EINTR)
            die("ppoll", NULL);
        for (i = 0; i < 2; i++)
            if (pf[i].revents & POLLIN)
                take(fd[i], &q[i], delay_ns);
        t = now_ns();
        give(fd[1], &q[0], t);
        give(fd[0], &q[1], t);
    }
    fprintf(stderr, "delaylink: forwarded %lu + %lu packets, dropped %lu + %lu, lost %lu + %lu\n",
            q[0].forwarded, q[1].forwarded, q[0].dropped, q[1].dropped, q[0].lost, q[1].lost);
    return 0;
}
