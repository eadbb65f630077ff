/* vsock-echo: the peers for tests/nested/test-virtio-vsock.sh, one static binary that runs both
 * in the guest (AF_VSOCK) and on the host (Firecracker-style Unix sockets).
 *
 *   vsock-echo gen BYTES SEED                 BYTES of a fixed pseudo-random stream to stdout
 *   vsock-echo listen PORT MODE               guest: serve vsock PORT (forks per connection)
 *   vsock-echo uds-serve PATH MODE            host: serve Unix socket PATH (forks per connection)
 *       MODE: echo | stall (never read) | close-after N (read N bytes, then close) | once
 *             (accept one connection, then exit: a barrier)
 *   vsock-echo connect CID PORT [blast S H]   guest: connect to CID:PORT
 *   vsock-echo uds-connect PATH PORT [blast S H]
 *                                             host: connect to PATH, "CONNECT PORT\n", expect
 *                                             "OK <n>\n"
 *       without blast: stdin goes to the socket (then SHUT_WR), the socket to stdout; exit 0
 *       when both ended cleanly, 1 on an error (printed on stderr).
 *       blast S H: write without reading until a write blocks S seconds or fails, print
 *       "BLAST written=N result=timeout|<error>", keep the connection H seconds, exit 0.
 *
 * Build: gcc -static -O2 -o vsock-echo vsock-echo.c */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static void die(const char *what)
{
	fprintf(stderr, "vsock-echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void gen(uint64_t bytes, uint64_t seed)
{
	static uint64_t buf[CHUNK / 8];
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	while (bytes) {
		for (size_t i = 0; i < CHUNK / 8; i++) { /* xorshift64 */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		size_t n = bytes < CHUNK ? (size_t)bytes : CHUNK;
		if (write_all(1, (const char *)buf, n) < 0) {
			if (errno == EPIPE)
				exit(1); /* the consumer went away: its own status tells */
			die("write");
		}
		bytes -= n;
	}
}

/* ---- Servers ---- */

static void serve_echo(int s)
{
	static char buf[CHUNK];
	ssize_t n;
	while ((n = read(s, buf, sizeof(buf))) > 0)
		if (write_all(s, buf, (size_t)n) < 0)
			_exit(1);
	shutdown(s, SHUT_WR);
	/* Wait for the peer to close, so the last bytes are not lost to a reset. */
	while (read(s, buf, sizeof(buf)) > 0) {
	}
	_exit(n < 0);
}

static void serve_close_after(int s, long limit)
{
	static char buf[CHUNK];
	long got = 0;
	while (got < limit) {
		ssize_t n = read(s, buf, (size_t)(limit - got < CHUNK ? limit - got : CHUNK));
		if (n <= 0)
			break;
		got += n;
	}
	close(s);
	_exit(0);
}

static void serve(int ls, int argc, char **argv)
{
	const char *mode = argv[0];
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	for (;;) {
		int s = accept(ls, NULL, NULL);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		if (!strcmp(mode, "once"))
			exit(0);
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid > 0) {
			close(s);
			continue;
		}
		close(ls);
		if (!strcmp(mode, "echo"))
			serve_echo(s);
		if (!strcmp(mode, "close-after") && argc > 1)
			serve_close_after(s, atol(argv[1]));
		pause(); /* stall: hold the connection, never read */
		_exit(0);
	}
}

static int vsock_listener(unsigned port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0)
		die("vsock listen");
	return s;
}

static void unix_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
}

static int unix_listener(const char *path)
{
	struct sockaddr_un a;
	unix_addr(&a, path);
	unlink(path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0)
		die("unix listen");
	return s;
}

/* ---- Clients ---- */

/* stdin → socket (child), socket → stdout (us). */
static int pump(int s)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	static char buf[CHUNK];
	if (pid == 0) {
		ssize_t n;
		while ((n = read(0, buf, sizeof(buf))) > 0)
			if (write_all(s, buf, (size_t)n) < 0) {
				fprintf(stderr, "vsock-echo: send: %s\n", strerror(errno));
				_exit(1);
			}
		shutdown(s, SHUT_WR);
		_exit(n < 0);
	}
	int rc = 0;
	ssize_t n;
	while ((n = read(s, buf, sizeof(buf))) > 0)
		if (write_all(1, buf, (size_t)n) < 0)
			die("stdout");
	if (n < 0) {
		fprintf(stderr, "vsock-echo: receive: %s\n", strerror(errno));
		rc = 1;
		kill(pid, SIGTERM);
	}
	int status;
	waitpid(pid, &status, 0);
	return rc || !WIFEXITED(status) || WEXITSTATUS(status);
}

static int blast(int s, int seconds, int hold)
{
	static char buf[CHUNK];
	struct timeval tv = { .tv_sec = seconds };
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	uint64_t written = 0;
	const char *result = "timeout";
	for (;;) {
		ssize_t w = write(s, buf, sizeof(buf));
		if (w > 0) {
			written += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			result = strerror(errno);
		break;
	}
	printf("BLAST written=%llu result=%s\n", (unsigned long long)written, result);
	fflush(stdout);
	sleep((unsigned)hold);
	return 0;
}

static int client(int s, int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[0], "blast"))
		return blast(s, atoi(argv[1]), atoi(argv[2]));
	return pump(s);
}

static int vsock_connect(unsigned cid, unsigned port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("vsock connect");
	return s;
}

static int uds_connect(const char *path, const char *port)
{
	struct sockaddr_un a;
	unix_addr(&a, path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("unix connect");
	char line[64];
	int n = snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (write_all(s, line, (size_t)n) < 0)
		die("CONNECT");
	/* The answer, a byte at a time: the stream starts right after it. */
	size_t len = 0;
	while (len < sizeof(line) - 1) {
		if (read(s, &line[len], 1) != 1) {
			fprintf(stderr, "vsock-echo: no OK from the VMM (refused)\n");
			exit(1);
		}
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	if (strncmp(line, "OK ", 3)) {
		fprintf(stderr, "vsock-echo: unexpected answer '%s'\n", line);
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && !strcmp(argv[1], "gen"))
		gen(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	else if (argc >= 4 && !strcmp(argv[1], "listen"))
		serve(vsock_listener((unsigned)atoi(argv[2])), argc - 3, argv + 3);
	else if (argc >= 4 && !strcmp(argv[1], "uds-serve"))
		serve(unix_listener(argv[2]), argc - 3, argv + 3);
	else if (argc >= 4 && !strcmp(argv[1], "connect"))
		return client(vsock_connect((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3])),
			      argc - 4, argv + 4);
	else if (argc >= 4 && !strcmp(argv[1], "uds-connect"))
		return client(uds_connect(argv[2], argv[3]), argc - 4, argv + 4);
	else {
		fprintf(stderr, "usage: see the comment at the top of vsock-echo.c\n");
		return 2;
	}
	return 0;
}
