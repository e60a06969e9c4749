/* test_shellcheck.c - unit tests of engine/shellcheck.c: where a
 * placeholder may stand in a command. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "helpers.h"
#include "engine/expand.h"
#include "engine/shellcheck.h"

static void check_cmd(const char *cmd, bool shell, const char *want_err)
{
	struct strbuf err = {0};
	int rc = check_command_placeholders(cmd, shell, &err);
	if (!want_err) {
		assert_int_equal(rc, 0);
		assert_string_equal(sb_str(&err), "");
	} else {
		assert_int_equal(rc, -1);
		if (!strstr(sb_str(&err), want_err))
			fail_msg("%s: got '%s', want '%s'", cmd, sb_str(&err), want_err);
	}
	sb_release(&err);
}

static void test_placeholder_places(void **state)
{
	(void)state;
	/* Fine: unquoted in a shell, inside $(...), in program arguments. */
	check_cmd("cat {input} > {output}", true, NULL);
	check_cmd("echo \"$(basename {input})\" | tr a b > {output}", true, NULL);
	check_cmd("awk '{print $1}' {input}", true, NULL);
	check_cmd("cat {input} # \"{input}\"", true, NULL);
	check_cmd("sh -c 'wc -c < \"$1\"' sh {input}", false, NULL);
	check_cmd("sh -c 'wc -c < \"$1\"' sh {input}", true, NULL);
	check_cmd("grep -c x {input}", false, NULL);
	check_cmd("echo \"{input}\"", false, NULL);
	/* Quoted in a shell command: the error shows the same command with
	 * the placeholder moved out of the quotes. */
	check_cmd("echo \"processing {name}\" > x", true,
	          "{name} is inside \"...\" quotes, where a file name could end the quoting and "
	          "run as shell code; write it outside the quotes (juggle quotes each value as "
	          "one word): echo \"processing \"{name} > x");
	check_cmd("echo '{name}' '{a} {item} b'", true, "echo {name} '{a} '{item}' b'");
	check_cmd("echo \"$(basename \"{input}\")\"", true, "echo \"$(basename {input})\"");
	check_cmd("echo `basename {input}`", true, "{input} is inside `...`");
	check_cmd("echo \"`basename {input}`\"", true, "{input} is inside `...`");
	check_cmd("echo ${x:-{input}}", true, "{input} is inside ${...}");
	check_cmd("echo $(( {item} + 1 ))", true, "{item} is inside $((...))");
	check_cmd("cat <<EOF\n{name}\nEOF\n", true, "{name} is inside a here-document");
	check_cmd("cat <<'EOF'\n{name}\nEOF\n", true, "{name} is inside a here-document");
	check_cmd("cat <<-EOF > {output}\n\tx\n\tEOF\necho {item}", true, NULL);
	/* Scripts a shell runs: sh -c, any shell, eval. */
	check_cmd("sh -c 'wc -c < {input}'", false,
	          "{input} is inside the script of 'sh -c', where a file name would run as shell "
	          "code; pass it as an argument and read it as \"$1\": sh -c 'wc -c < \"$1\"' sh "
	          "{input}");
	check_cmd("sh -c 'wc -c < {input}'", true, "sh -c 'wc -c < \"$1\"' sh {input}");
	check_cmd("/bin/bash -euc 'echo $(({item} * {item})) > {output}'", false,
	          "/bin/bash -euc 'echo $(($1 * $1)) > \"$2\"' sh {item} {output}");
	check_cmd("env X=1 dash -o errexit -c 'cp $0 {output}' {input}", false,
	          "dash -o errexit -c 'cp $0 \"$1\"' {input} {output}");
	check_cmd("busybox sh -c 'cat {input}'", false, "'sh -c'");
	check_cmd("x=1; eval echo {name}", true, "{name} is an argument of eval");
	check_cmd("sh -c {input}", true, "{input} is inside the script of 'sh -c'");
	/* A backslash or '$' just before the value's opening quote. */
	check_cmd("echo \\{input}", true, "{input} directly after '\\'");
	check_cmd("echo $${input}", true, "{input} directly after '$'");
	check_cmd("echo \"\\{input}\"", true, "{input} is inside \"...\" quotes");
	check_cmd("echo `\\{input}`", true, "{input} is inside `...`");
	check_cmd("echo \\{nope} \\$x", true, NULL);
}

static void test_programs_that_hand_words_to_a_shell(void **state)
{
	(void)state;
	/* ssh: every word after the host is remote shell code. */
	check_cmd("ssh -p 22 build@host wc -c {input}", false,
	          "{input} is in a command that 'ssh' hands to a shell");
	check_cmd("ssh host 'wc -c' < {input} > {output}", true, NULL);
	check_cmd("ssh -i {input} host true", false, NULL); /* an option's argument */
	check_cmd("nice -n 5 env A=1 ssh host cat {input}", true, "'ssh' hands to a shell");
	check_cmd("sudo -u me ssh host cat {input}", false, "'ssh' hands to a shell");
	check_cmd("timeout -s KILL 10 ssh host cat {input}", false, "'ssh' hands to a shell");
	check_cmd("2>err.log >{output} ssh host cat {input}", true, "'ssh' hands to a shell");
	/* Named as an argument, or after a redirection, it is no program. */
	check_cmd("grep ssh {input} > {output}", true, NULL);
	check_cmd("cat {input} > watch", true, NULL);
	check_cmd("echo watch {input} 2>&1 | tr a b", true, NULL);
	/* The argument of -c: su, runuser, flock, script. */
	check_cmd("flock .lock -c 'cp {input} {output}'", false,
	          "'flock' hands to a shell, where a file name would run as shell code; write "
	          "flock FILE PROGRAM ARGS (without -c)");
	check_cmd("flock .lock cp {input} {output}", false, NULL);
	check_cmd("su nobody -c 'cat {input}'", true, "'su' hands to a shell");
	check_cmd("runuser -u nobody -- cat {input}", false, NULL);
	check_cmd("runuser nobody --command='cat {input}'", false, "'runuser' hands to a shell");
	check_cmd("script -q -c 'cat {input}' /dev/null", false, "'script' hands to a shell");
	check_cmd("sg staff 'cat {input}'", false, "'sg' hands to a shell");
	/* watch without -x, parallel before :::. */
	check_cmd("watch -n 1 cat {input}", false, "'watch' hands to a shell");
	check_cmd("watch -x -n 1 cat {input}", false, NULL);
	check_cmd("parallel gzip -k {input} ::: a b", false, "'parallel' hands to a shell");
	check_cmd("parallel gzip -k ::: {input}", false, NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_placeholder_places),
    cmocka_unit_test(test_programs_that_hand_words_to_a_shell),
};
UNIT_GROUP(shellcheck, tests, NULL, NULL);
