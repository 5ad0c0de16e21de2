/*
 * startup-floor: the least a sandbox start can cost on this machine, for `thaw bench startup`.
 *
 * No server, no pools, no network namespace, no cgroup, no root, no mount namespace: for each
 * sandbox one clone(CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), the
 * cheapest way there is to a process that is pid 1 of its own namespaces (Thaw's own technique),
 * then exec the program, wait. Bursts of N at once, each timed from its clone to its reaping; the
 * bench reports it beside Thaw, runc and Docker, so that an absolute latency target can be judged
 * against what the kernel and this VM allow.
 *
 * usage: startup-floor CONCURRENCY BURSTS IDLE_MS PROGRAM    prints one latency (ms) per line,
 *        then "wall <ms>" per burst
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (64 * 1024)

static const char *program;

static int child(void *arg) {
    (void)arg;
    execl(program, "true", (char *)NULL);
    _exit(127);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: startup-floor CONCURRENCY BURSTS IDLE_MS PROGRAM\n");
        return 2;
    }
    int n = atoi(argv[1]), bursts = atoi(argv[2]), idle = atoi(argv[3]);
    program = argv[4];
    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        perror("startup-floor: mmap");
        return 1;
    }
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    double *started = calloc((size_t)n, sizeof *started);
    for (int b = 0; b < bursts; b++) {
        usleep((useconds_t)idle * 1000);
        double wall = now_ms();
        for (int i = 0; i < n; i++) {
            started[i] = now_ms();
            /* CLONE_VFORK: returns once the child has exec'd, so one stack serves every child. */
            pids[i] = clone(child, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, NULL);
            if (pids[i] < 0) {
                perror("startup-floor: clone");
                return 1;
            }
        }
        for (int done = 0; done < n; done++) {
            int status;
            pid_t pid = wait(&status);
            for (int i = 0; i < n; i++)
                if (pids[i] == pid) {
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "startup-floor: sandbox failed (status %d)\n", status);
                        return 1;
                    }
                    printf("%.3f\n", now_ms() - started[i]);
                }
        }
        printf("wall %.3f\n", now_ms() - wall);
    }
    return 0;
}
