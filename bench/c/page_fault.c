/*
 * will-it-scale's page_fault1 and page_fault3 loops against the real kernel, for comparison with
 * `./mmlab run page-fault` and `./mmlab run page-fault3`. One source, two programs:
 *
 * - built plain, page_fault1: each worker maps 128 MiB MAP_PRIVATE|MAP_ANONYMOUS, writes one byte
 *   per page (one write fault each), unmaps, repeats, until the time is up;
 * - built with -DPAGE_FAULT3, page_fault3: each worker first creates a 128 MiB file on /dev/shm
 *   (tmpfs: O_EXCL, ftruncate, unlink), then maps it MAP_SHARED in the same loop (the first round
 *   allocates the page cache, later rounds find it).
 *
 *   page_fault1 [-t] N SECONDS        page_fault3 [-t] N SECONDS
 *
 * N workers: processes by fork (the default, will-it-scale's "processes" mode), or threads with
 * -t (one shared mm, its "threads" mode). Worker i pins itself to the i-th CPU the program may
 * use (round robin), as will-it-scale does and as `./mmlab run` does with its threads.
 * Prints faults and faults/s per worker and in total.
 * Build and run: bench/c/run-page-fault.sh and bench/c/run-page-fault3.sh (gcc into /tmp).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include "pin.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef PAGE_FAULT3
#define PROGRAM "page_fault3"
#else
#define PROGRAM "page_fault1"
#endif

#define MEMSIZE (128UL * 1024 * 1024)
#define CLOCK_EVERY 256

static double seconds;
static struct result { unsigned long faults; double secs; long minflt; } *results;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void worker(int i, double start, int who) {
  struct rusage ru0, ru1;
  pin(i);
  getrusage(who, &ru0);
  long pg = sysconf(_SC_PAGESIZE);
  double deadline = start + seconds;
  unsigned long faults = 0;
  int done = 0;
#ifdef PAGE_FAULT3
  char path[64];
  snprintf(path, sizeof path, "/dev/shm/willitscale.%d.%d", (int)getpid(), i);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ftruncate(fd, MEMSIZE) != 0 || unlink(path) != 0) {
    perror(path);
    exit(1);
  }
#endif
  while (!done) {
#ifdef PAGE_FAULT3
    char *c = mmap(NULL, MEMSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
#else
    char *c = mmap(NULL, MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
    if (c == MAP_FAILED) {
      perror("mmap");
      exit(1);
    }
#ifndef PAGE_FAULT3
    madvise(c, MEMSIZE, MADV_NOHUGEPAGE); /* 4 KiB faults even with THP "always": the model has no THP yet */
#endif
    for (unsigned long off = 0; off < MEMSIZE; off += pg) {
      c[off] = 0;
      faults++;
      if (faults % CLOCK_EVERY == 0 && now() >= deadline) {
        done = 1;
        break;
      }
    }
    munmap(c, MEMSIZE);
    if (now() >= deadline) done = 1;
  }
#ifdef PAGE_FAULT3
  close(fd);
#endif
  getrusage(who, &ru1);
  results[i].minflt = ru1.ru_minflt - ru0.ru_minflt;
  results[i].faults = faults;
  results[i].secs = now() - start;
}

struct targ { int i; double start; };
static void *thread_main(void *p) {
  struct targ *a = p;
  worker(a->i, a->start, RUSAGE_THREAD);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 0, argi = 1;
  if (argc > 1 && strcmp(argv[1], "-t") == 0) { threads = 1; argi++; }
  if (argc - argi != 2) {
    fprintf(stderr, "usage: %s [-t] N SECONDS\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[argi]);
  seconds = atof(argv[argi + 1]);
  if (n < 1 || seconds <= 0) {
    fprintf(stderr, "usage: %s [-t] N SECONDS\n", argv[0]);
    return 2;
  }
  pin_init();
  results = mmap(NULL, n * sizeof *results, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  double start = now();
  if (threads) {
    pthread_t *t = calloc(n, sizeof *t);
    struct targ *a = calloc(n, sizeof *a);
    for (int i = 0; i < n; i++) {
      a[i] = (struct targ){i, start};
      pthread_create(&t[i], NULL, thread_main, &a[i]);
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  } else {
    for (int i = 0; i < n; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        worker(i, start, RUSAGE_SELF);
        _exit(0);
      }
      if (pid < 0) { perror("fork"); return 1; }
    }
    int status, bad = 0;
    while (wait(&status) > 0) bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (bad) return 1;
  }
  double elapsed = now() - start;
  unsigned long total = 0;
  for (int i = 0; i < n; i++) {
    printf("  %s %d: %lu faults, %.0f faults/s (minflt %ld)\n", threads ? "thread" : "process", i,
           results[i].faults, results[i].faults / results[i].secs, results[i].minflt);
    total += results[i].faults;
  }
  printf("%s (kernel): %d %s, %.2f s, total %lu faults, %.0f faults/s\n", PROGRAM, n,
         threads ? "threads" : "processes", elapsed, total, total / elapsed);
  return 0;
}
