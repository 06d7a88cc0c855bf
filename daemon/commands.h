/* commands.h - the fltblame sub-commands. Each lives in its own cmd_*.c. */
#ifndef FB_COMMANDS_H
#define FB_COMMANDS_H

int cmd_pml(int argc, char **argv);
int cmd_etl(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Exit statuses shared by all commands. */
enum {
  FB_EXIT_OK = 0,
  FB_EXIT_FINDINGS = 1, /* analyze: findings were made */
  FB_EXIT_USAGE = 2,
  FB_EXIT_INPUT = 3, /* an input could not be read (fully) */
  FB_EXIT_INTERNAL = 4,
};

#endif
