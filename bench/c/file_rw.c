/*
 * file_rw: sequential pwrite then pread of a tmpfs file against the real kernel, for comparison
 * with `./mmlab run file-rw` (the same loop, the same checks). Each worker creates its own file
 * on /dev/shm (O_EXCL, then unlink: it lives while open). A round writes the whole file in
 * BLOCK-byte pwrites, every byte set to the round number, then reads it back in BLOCK-byte
 * preads, checking the first and last byte of each block. Rounds repeat until the time is up;
 * write and read time are summed separately.
 *
 *   file_rw N SECONDS BLOCK SIZE     (BLOCK and SIZE in bytes, e.g. 1048576 67108864)
 *
 * N workers are processes (fork), worker i pinned to the i-th CPU the program may use (round
 * robin), as `./mmlab run` pins its threads. Build and run: bench/c/run-file-rw.sh (gcc into /tmp).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pin.h"
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct result { unsigned long written, read, rounds; double wsecs, rsecs; } *results;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void worker(int i, double deadline, long block, long size) {
  pin(i);
  char path[64];
  snprintf(path, sizeof path, "/dev/shm/file-rw.%d.%d", (int)getpid(), i);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || unlink(path) != 0) {
    perror(path);
    exit(1);
  }
  char *buf = malloc(block), *in = malloc(block);
  struct result *r = &results[i];
  for (int round = 1; now() < deadline; round++) {
    memset(buf, (char)round, block);
    double t0 = now();
    for (long off = 0; off < size; off += block) {
      if (pwrite(fd, buf, block, off) != block) { perror("pwrite"); exit(1); }
      r->written += block;
    }
    double t1 = now();
    for (long off = 0; off < size; off += block) {
      if (pread(fd, in, block, off) != block || in[0] != (char)round || in[block - 1] != (char)round) {
        fprintf(stderr, "pread at %ld: wrong data\n", off);
        exit(1);
      }
      r->read += block;
    }
    double t2 = now();
    r->wsecs += t1 - t0;
    r->rsecs += t2 - t1;
    r->rounds++;
  }
  close(fd);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s N SECONDS BLOCK SIZE\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[1]);
  double seconds = atof(argv[2]);
  long block = atol(argv[3]), size = atol(argv[4]);
  if (n < 1 || seconds <= 0 || block < 1 || size < block || size % block != 0) {
    fprintf(stderr, "usage: %s N SECONDS BLOCK SIZE (BLOCK divides SIZE)\n", argv[0]);
    return 2;
  }
  pin_init();
  results = mmap(NULL, n * sizeof *results, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  double deadline = now() + seconds;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      worker(i, deadline, block, size);
      _exit(0);
    }
    if (pid < 0) { perror("fork"); return 1; }
  }
  int status, bad = 0;
  while (wait(&status) > 0) bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  if (bad) return 1;
  double wrate = 0, rrate = 0;
  for (int i = 0; i < n; i++) {
    struct result *r = &results[i];
    double w = r->written / 1048576.0 / r->wsecs, rd = r->read / 1048576.0 / r->rsecs;
    printf("  process %d: %lu rounds, pwrite %.0f MiB/s, pread %.0f MiB/s\n", i, r->rounds, w, rd);
    wrate += w;
    rrate += rd;
  }
  printf("file_rw (kernel tmpfs): %d processes, %ld-byte blocks, %ld MiB files: pwrite %.0f MiB/s, pread %.0f MiB/s\n",
         n, block, size >> 20, wrate, rrate);
  return 0;
}
