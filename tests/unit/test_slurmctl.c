/* test_slurmctl.c - unit tests of engine/backends/slurmctl.c: reading
 * squeue's lines and Slurm's job states. The first four lines are what
 * squeue printed on the test cluster of tests/slurm.py; the others are
 * the fields squeue leaves empty or unknown. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "helpers.h"
#include "engine/backends/slurmctl.h"

static void check_job(const char *text, long id, const char *state, int wstatus, const char *node,
		      const char *comment)
{
	char line[256];
	snprintf(line, sizeof(line), "%s", text);
	struct slurmctl_job job;
	if (slurmctl_parse_job(line, &job) != 0)
		fail_msg("'%s' did not parse", text);
	assert_int_equal(job.id, id);
	assert_string_equal(job.state, state);
	assert_int_equal(job.wstatus, wstatus);
	assert_string_equal(job.node, node);
	assert_int_equal(job.comment_len, strlen(comment));
	assert_memory_equal(job.comment, comment, strlen(comment));
}

static void test_slurmctl_parse_job(void **state)
{
	(void)state;
	check_job("1|COMPLETED|0|jnode|juggle-0123456789abcdef-1|", 1, "COMPLETED", 0, "jnode",
		  "juggle-0123456789abcdef-1");
	/* exit 3: the exit code is a wait status. */
	check_job("2|FAILED|768|jnode|juggle-0123456789abcdef-2|", 2, "FAILED", 768, "jnode",
		  "juggle-0123456789abcdef-2");
	assert_true(WIFEXITED(768) && WEXITSTATUS(768) == 3);
	check_job("3|RUNNING|0|jnode|juggle-0123456789abcdef-3|", 3, "RUNNING", 0, "jnode",
		  "juggle-0123456789abcdef-3");
	check_job("3|CANCELLED|15|jnode|juggle-0123456789abcdef-3|", 3, "CANCELLED", 15, "jnode",
		  "juggle-0123456789abcdef-3");
	/* A job still waiting for a node, and one whose fields are unknown. */
	check_job("4|PENDING|0|(null)|juggle-0123456789abcdef-4|", 4, "PENDING", 0, "",
		  "juggle-0123456789abcdef-4");
	check_job("5|PENDING|||other|", 5, "PENDING", -1, "", "other");
	check_job("6|COMPLETED|N/A|jnode||", 6, "COMPLETED", -1, "jnode", "");

	/* Fewer than five fields: not a line of that format. */
	char bad[] = "1|COMPLETED|0|jnode";
	struct slurmctl_job job;
	assert_int_equal(slurmctl_parse_job(bad, &job), -1);
	char empty[] = "";
	assert_int_equal(slurmctl_parse_job(empty, &job), -1);
}

static void test_slurmctl_states(void **state)
{
	(void)state;
	static const char *const final[] = {"COMPLETED", "FAILED",    "CANCELLED",
					    "TIMEOUT",   "NODE_FAIL", "PREEMPTED",
					    "BOOT_FAIL", "DEADLINE",  "OUT_OF_MEMORY",
					    "REVOKED",   "SPECIAL_EXIT"};
	for (size_t i = 0; i < ARRAY_SIZE(final); i++)
		assert_true(slurmctl_state_final(final[i]));
	static const char *const live[] = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING",
					   "SUSPENDED", "REQUEUED", "", "completed"};
	for (size_t i = 0; i < ARRAY_SIZE(live); i++)
		assert_false(slurmctl_state_final(live[i]));

	assert_string_equal(slurmctl_state_reason("PREEMPTED"), "was preempted");
	assert_string_equal(slurmctl_state_reason("CANCELLED"),
			    "was cancelled (scancel, or by an administrator)");
	assert_string_equal(slurmctl_state_reason("TIMEOUT"), "reached its Slurm time limit");
	/* Completed and failed jobs are told by their exit code. */
	assert_null(slurmctl_state_reason("COMPLETED"));
	assert_null(slurmctl_state_reason("FAILED"));
	assert_null(slurmctl_state_reason("RUNNING"));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_slurmctl_parse_job),
	cmocka_unit_test(test_slurmctl_states),
};
UNIT_GROUP(slurmctl, tests, NULL, NULL);
