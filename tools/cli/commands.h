/* The jempp subcommands: each takes the arguments after its name (argv[0] = name). */
#ifndef JEMPP_CLI_COMMANDS_H
#define JEMPP_CLI_COMMANDS_H

int jp_cmd_train(int argc, char **argv);
int jp_cmd_data(int argc, char **argv);
int jp_cmd_eval(int argc, char **argv);
int jp_cmd_toy(int argc, char **argv);
int jp_cmd_report(int argc, char **argv);
int jp_cmd_compare(int argc, char **argv);
int jp_cmd_env(int argc, char **argv);

#endif
