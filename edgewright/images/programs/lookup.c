/* edgewright's lookup: resolves names as a pod's programs do, through the pod's /etc/resolv.conf (the
 * cluster DNS, its search domains and ndots), to show cluster DNS works from inside a pod.
 *
 *   lookup NAME...   resolves each NAME once and prints "NAME ADDRESS..." (or "NAME failed: why") for each;
 *                    exits 1 when one of them did not resolve.
 *   lookup           as a pod's main process: resolves the names of $NAMES (space-separated) once, logs
 *                    the result, then waits, ending at once on SIGTERM.
 *
 * Built statically against musl, whose resolver is part of the C library: glibc's loads NSS modules at
 * run time, which an image FROM scratch does not have. */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void stop(int signal_number) {
  (void)signal_number;
  _exit(0);
}

static int resolve(const char *name) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *found = NULL;
  int status = getaddrinfo(name, NULL, &hints, &found);
  if (status != 0) {
    printf("%s failed: %s\n", name, gai_strerror(status));
    return 1;
  }
  printf("%s", name);
  for (struct addrinfo *a = found; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN];
    const void *address = a->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
    if (inet_ntop(a->ai_family, address, text, sizeof text)) printf(" %s", text);
  }
  printf("\n");
  freeaddrinfo(found);
  return 0;
}

int main(int argc, char **argv) {
  struct sigaction on_stop = {.sa_handler = stop};
  sigaction(SIGTERM, &on_stop, NULL);
  sigaction(SIGINT, &on_stop, NULL);
  int failed = 0;
  if (argc > 1) {
    for (int i = 1; i < argc; i++) failed |= resolve(argv[i]);
    return failed;
  }
  const char *names = getenv("NAMES");
  char buffer[4096];
  snprintf(buffer, sizeof buffer, "%s", names ? names : "");
  for (char *name = strtok(buffer, " "); name; name = strtok(NULL, " ")) failed |= resolve(name);
  printf("lookup: %s\n", failed ? "some names did not resolve" : "every name resolved");
  fflush(stdout);
  for (;;) pause();
}
