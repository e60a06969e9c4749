/* helpers.h - what the unit test files share: a fresh temporary folder
 * per test, and writing small files. */
#ifndef JUGGLE_TEST_HELPERS_H
#define JUGGLE_TEST_HELPERS_H

/* cmocka setup/teardown: chdir into a new temporary folder, and back out
 * of it (removing it). */
int in_tmp(void **state);
int out_of_tmp(void **state);
/* Writes text to path, creating its folders; fails the test on error. */
void write_text(const char *path, const char *text);

#endif
