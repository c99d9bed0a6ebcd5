/* The pod sandbox's process: holds the pod's namespaces and does nothing else.
 *
 * As PID 1 of the pod it reaps the zombies of processes that share its PID namespace, and it ends on
 * SIGINT or SIGTERM (PID 1 gets no default signal handling). Built statically, so the image needs
 * nothing but this file. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) {
  (void)signal_number;
  _exit(0);
}

static void reap(int signal_number) {
  (void)signal_number;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("edgewright pause 1.0");
    return 0;
  }
  if (getpid() != 1) fputs("warning: pause should be the first process of its PID namespace\n", stderr);
  struct sigaction on_stop = {.sa_handler = stop};
  struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  if (sigaction(SIGINT, &on_stop, NULL) < 0 || sigaction(SIGTERM, &on_stop, NULL) < 0 ||
      sigaction(SIGCHLD, &on_child, NULL) < 0) {
    perror("sigaction");
    return 1;
  }
  for (;;) pause();
}
