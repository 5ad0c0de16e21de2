/*
 * startup-floor: the least a sandbox start can cost on this machine, for `thaw bench startup`.
 *
 * No server, no pools, no network namespace, no cgroup, no root: for each sandbox, fork, unshare
 * the pid, ipc and uts namespaces, fork pid 1, exec the program, wait. Bursts of N at once, each
 * timed from its fork to its reaping; the bench reports it beside Thaw, runc and Docker, so that an
 * absolute latency target can be judged against what the kernel and this VM allow.
 *
 * usage: startup-floor CONCURRENCY BURSTS IDLE_MS PROGRAM    prints one latency (ms) per line,
 *        then "wall <ms>" per burst
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    const char *program = argv[4];
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    double *started = calloc((size_t)n, sizeof *started);
    for (int b = 0; b < bursts; b++) {
        usleep((useconds_t)idle * 1000);
        double wall = now_ms();
        for (int i = 0; i < n; i++) {
            started[i] = now_ms();
            pids[i] = fork();
            if (pids[i] == 0) {
                if (unshare(CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) < 0) _exit(126);
                pid_t init = fork();
                if (init == 0) {
                    execl(program, "true", (char *)NULL);
                    _exit(127);
                }
                int status;
                waitpid(init, &status, 0);
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
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
