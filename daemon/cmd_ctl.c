/* cmd_ctl.c - 'fltblame ctl': one request to a running daemon's control
 * socket, its JSON answer printed. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "daemon/serve_config.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: fltblame ctl [--socket PATH] [--config FILE] [--raw] COMMAND\n\n"
          "commands:\n"
          "  status                         uptime, queue, workers, jobs per state, throughput\n"
          "  list [--state S] [--since T] [--limit N]\n"
          "                                 jobs, newest first (S: queued running done failed cancelled;\n"
          "                                 T: unix seconds or YYYY-MM-DD[THH:MM[:SS]] UTC)\n"
          "  show ID                        one job\n"
          "  reprocess ID|PATH              run again with the current rules (old verdict kept as .vN)\n"
          "  cancel ID                      drop a queued job or kill a running one\n"
          "  report [--date D]              write the report of day D (default yesterday)\n\n"
          "The socket defaults to the config's (/run/fltblame/ctl.sock). The answer is JSON;\n"
          "exit status 0 when it says ok, 3 when the daemon refused, 4 when it cannot be reached.\n");
}

/* Send one line, read one line (with a deadline). */
static int roundtrip(const char *sock, const char *req, char **resp, char *err, size_t errlen) {
  struct sockaddr_un a;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  size_t len = strlen(req), cap = 8192, got = 0;
  char *buf;

  *resp = NULL;
  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  if (fd < 0 || strlen(sock) >= sizeof(a.sun_path)) {
    snprintf(err, errlen, "%s: %s", sock, fd < 0 ? strerror(errno) : "path too long");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  memcpy(a.sun_path, sock, strlen(sock) + 1);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    snprintf(err, errlen, "cannot connect to %s: %s", sock, strerror(errno));
    close(fd);
    return -1;
  }
  for (size_t off = 0; off < len;) {
    ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break; /* a refused peer is answered and closed: read the answer anyway */
    off += (size_t)n;
  }
  if ((buf = malloc(cap)) == NULL) {
    close(fd);
    return -1;
  }
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (memchr(buf, '\n', got))
      break;
    if (poll(&p, 1, 60000) <= 0) {
      snprintf(err, errlen, "no answer from %s", sock);
      break;
    }
    if (got + 4096 > cap) {
      char *nb = realloc(buf, cap *= 2);
      if (nb == NULL)
        break;
      buf = nb;
    }
    n = recv(fd, buf + got, cap - got - 1, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (got == 0 || memchr(buf, '\n', got) == NULL) {
    if (!err[0])
      snprintf(err, errlen, "%s closed the connection without an answer", sock);
    free(buf);
    return -1;
  }
  buf[got] = '\0';
  *resp = buf;
  return 0;
}

static int is_number(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

int cmd_ctl(int argc, char **argv) {
  struct serve_config cfg;
  json_t *req = json_object();
  const char *cmd = NULL;
  char err[1024] = "";
  char *line, *resp;
  int raw = 0, i, rc;
  json_t *answer;

  serve_config_defaults(&cfg);
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      json_decref(req);
      return FB_EXIT_OK;
    } else if (!strcmp(argv[i], "--raw")) {
      raw = 1;
    } else if ((!strcmp(argv[i], "--socket") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
      if (!strcmp(argv[i], "--socket"))
        snprintf(cfg.socket_path, sizeof(cfg.socket_path), "%s", argv[i + 1]);
      else if (serve_config_load(&cfg, argv[i + 1], err, sizeof(err)) < 0) {
        fprintf(stderr, "fltblame ctl: %s\n", err);
        json_decref(req);
        return FB_EXIT_USAGE;
      }
      i++;
    } else if (cmd == NULL && argv[i][0] != '-') {
      cmd = argv[i];
      json_object_set_new(req, "cmd", json_string(cmd));
    } else if (cmd &&
               (!strcmp(argv[i], "--state") || !strcmp(argv[i], "--since") || !strcmp(argv[i], "--date") ||
                !strcmp(argv[i], "--limit")) &&
               i + 1 < argc) {
      if (!strcmp(argv[i], "--limit"))
        json_object_set_new(req, "limit", json_integer(atoll(argv[i + 1])));
      else if (!strcmp(argv[i], "--since") && is_number(argv[i + 1]))
        json_object_set_new(req, "since", json_integer(atoll(argv[i + 1])));
      else
        json_object_set_new(req, argv[i] + 2, json_string(argv[i + 1]));
      i++;
    } else if (cmd && argv[i][0] != '-' && !json_object_get(req, "id") && !json_object_get(req, "path")) {
      if (is_number(argv[i]))
        json_object_set_new(req, "id", json_integer(atoll(argv[i])));
      else
        json_object_set_new(req, "path", json_string(argv[i]));
    } else {
      fprintf(stderr, "fltblame ctl: unexpected argument '%s'\n\n", argv[i]);
      usage(stderr);
      json_decref(req);
      return FB_EXIT_USAGE;
    }
  }
  if (cmd == NULL) {
    usage(stderr);
    json_decref(req);
    return FB_EXIT_USAGE;
  }
  line = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  if (line == NULL)
    return FB_EXIT_INTERNAL;
  {
    size_t n = strlen(line);
    char *l2 = realloc(line, n + 2);
    if (l2 == NULL) {
      free(line);
      return FB_EXIT_INTERNAL;
    }
    line = l2;
    line[n] = '\n';
    line[n + 1] = '\0';
  }
  rc = roundtrip(cfg.socket_path, line, &resp, err, sizeof(err));
  free(line);
  if (rc < 0) {
    fprintf(stderr, "fltblame ctl: %s\n", err);
    return FB_EXIT_INTERNAL;
  }
  answer = json_loads(resp, JSON_DISABLE_EOF_CHECK, NULL);
  if (raw || answer == NULL) {
    fputs(resp, stdout);
  } else {
    json_dumpf(answer, stdout, JSON_INDENT(2));
    putchar('\n');
  }
  rc = json_is_true(json_object_get(answer, "ok")) ? FB_EXIT_OK : FB_EXIT_INPUT;
  json_decref(answer);
  free(resp);
  return rc;
}
