/* edgewright's hello workload: proves a node runs pods from the site registry.
 *
 * Listens on TCP port $PORT (default 8080) and answers every connection with one line naming the node
 * ($NODE_NAME, from the downward API) and the pod ($POD_NAME); logs one line when it starts. Ends at
 * once on SIGTERM, as PID 1 of its container gets no default signal handling. Built statically. */
#include <netinet/in.h>
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

static const char *env_or(const char *name, const char *fallback) {
  const char *value = getenv(name);
  return value && *value ? value : fallback;
}

int main(void) {
  struct sigaction on_stop = {.sa_handler = stop};
  sigaction(SIGTERM, &on_stop, NULL);
  sigaction(SIGINT, &on_stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  int port = atoi(env_or("PORT", "8080"));
  if (port < 1 || port > 65535) {
    fprintf(stderr, "PORT must be a TCP port (1-65535), not %s\n", env_or("PORT", ""));
    return 2;
  }
  int listener = socket(AF_INET6, SOCK_STREAM, 0);
  int no = 0, yes = 1;
  setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  struct sockaddr_in6 address = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port),
                                 .sin6_addr = IN6ADDR_ANY_INIT};
  if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) < 0 ||
      listen(listener, 64) < 0) {
    perror("listen");
    return 1;
  }
  char reply[512];
  int length = snprintf(reply, sizeof reply, "hello from %s on %s\n", env_or("POD_NAME", "a pod"),
                        env_or("NODE_NAME", "an unnamed node"));
  printf("hello: serving on port %d: %s", port, reply);
  fflush(stdout);
  for (;;) {
    int connection = accept(listener, NULL, NULL);
    if (connection < 0) continue;
    ssize_t sent = write(connection, reply, (size_t)length);
    (void)sent;
    close(connection);
  }
}
