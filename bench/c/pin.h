/*
 * Pinning of bench/c's workers, as will-it-scale pins its tasks and `./mmlab run` its threads:
 * pin_init() once in main reads the CPUs the program may use; pin(i) in worker i pins the
 * calling thread (or process) to the i-th of them, round robin.
 */
#ifndef MMLAB_PIN_H
#define MMLAB_PIN_H
#include <sched.h>
#include <stdio.h>

static cpu_set_t pin_allowed;

static void pin_init(void) {
  if (sched_getaffinity(0, sizeof pin_allowed, &pin_allowed) != 0) CPU_ZERO(&pin_allowed);
}

static void pin(int i) {
  int n = CPU_COUNT(&pin_allowed), k = i % (n > 0 ? n : 1);
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &pin_allowed) && k-- == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (sched_setaffinity(0, sizeof one, &one) != 0) perror("sched_setaffinity");
      return;
    }
  }
}
#endif
