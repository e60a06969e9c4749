/* filesig.c - a file's signature as the state log remembers it; see
 * filesig.h. */
#define _GNU_SOURCE
#include "engine/filesig.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/util.h"

int hash_file(const char *path, unsigned char out[16])
{
	/* Only a regular file has contents to hash: a FIFO or a device would
	 * block the reading thread (the scheduler's, for inputs) forever. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, md_sha256(), NULL);
	static __thread unsigned char buf[1 << 16];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	close(fd);
	memcpy(out, md, 16);
	return rc;
}

int file_sig_read(const char *path, struct file_sig *sig, bool want_hash)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		sig->mtime_ns = -1;
		sig->size = 0;
		memset(sig->hash, 0, 16);
		return -1;
	}
	sig->mtime_ns = time_ns(&st.st_mtim);
	sig->size = (int64_t)st.st_size;
	if (want_hash && hash_file(path, sig->hash) < 0) {
		sig->mtime_ns = -1;
		return -1;
	}
	return 0;
}
