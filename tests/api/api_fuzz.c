/* A hostile API client: malformed, truncated, oversized and out-of-phase requests must each get
 * 400 with a fault_message while the server keeps serving; then 1,000 requests in a loop must
 * leave the server's file descriptors and memory where they were.
 *
 *   api_fuzz SOCKET PID      (PID: the ember process, for /proc/PID/fd and VmRSS)
 *
 * Raw sockets on purpose: curl cannot send broken HTTP. Prints "N passed, M failed". */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX 65536
#define LOOP_REQUESTS 1000
#define RSS_SLACK_KB 512

static const char *sock_path;
static int passed, failed;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s: ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (ok)
		passed++;
	else
		failed++;
}

static int connect_api(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("connect");
		exit(2);
	}
	return fd;
}

static bool send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false; /* the server may hang up on a request it refused: fine */
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads until the server closes or `timeout_ms` passes without data. */
static size_t read_reply(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t got = 0;
	while (got < size - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t n = recv(fd, buf + got, size - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		/* A complete response with Content-Length: stop early. */
		char *end = strstr(buf, "\r\n\r\n");
		char *cl = strcasestr(buf, "Content-Length: ");
		buf[got] = '\0';
		if (end && cl && cl < end && got >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
			break;
		if (end && !cl && strncmp(buf, "HTTP/1.1 204", 12) == 0)
			break;
	}
	buf[got] = '\0';
	return got;
}

/* Sends raw bytes (optionally closing our sending side) and returns the status code. */
static int exchange(const char *req, size_t len, bool half_close, char *reply, int timeout_ms)
{
	int fd = connect_api();
	send_all(fd, req, len);
	if (half_close)
		shutdown(fd, SHUT_WR);
	read_reply(fd, reply, REPLY_MAX, timeout_ms);
	close(fd);
	int status = 0;
	sscanf(reply, "HTTP/1.1 %d", &status);
	return status;
}

static bool server_alive(void)
{
	static char reply[REPLY_MAX];
	const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	return exchange(req, sizeof(req) - 1, false, reply, 10000) == 200 &&
	       strstr(reply, "\"state\"");
}

/* The request must get 400 with a fault_message, and the server must answer the next one. */
static void bad(const char *what, const char *req, size_t len, bool half_close, int timeout_ms)
{
	static char reply[REPLY_MAX];
	int status = exchange(req, len, half_close, reply, timeout_ms);
	char *body = strstr(reply, "\r\n\r\n");
	bool fault = body && strstr(body, "{\"fault_message\":\"");
	check(status == 400 && fault, "%s -> %d %s", what, status, body ? body + 4 : "(no reply)");
	check(server_alive(), "server still serving after: %s", what);
}

static void bad_request(const char *what, const char *method, const char *path, const char *body)
{
	char req[8192];
	int n = body ? snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
				"application/json\r\nContent-Length: %zu\r\n\r\n%s", method, path,
				strlen(body), body)
		     : snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, path);
	bad(what, req, (size_t)n, false, 10000);
}

static void framing_cases(void)
{
	static char big[70000];
	const char trunc_headers[] = "GET / HTTP/1.1\r\nHost: x\r\nAccept: appl";
	bad("truncated headers", trunc_headers, sizeof(trunc_headers) - 1, true, 10000);
	const char trunc_body[] = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 100"
				  "\r\n\r\n{\"vcpu_count\": 1";
	bad("truncated body", trunc_body, sizeof(trunc_body) - 1, true, 10000);
	bad("stalled request (server timeout)", trunc_headers, sizeof(trunc_headers) - 1, false, 8000);

	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'a', 10000);
	n += 10000;
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n\r\n");
	bad("oversized headers", big, (size_t)n, false, 10000);

	n = snprintf(big, sizeof(big), "GET /");
	memset(big + n, 'a', 10000);
	n += 2000;
	n += snprintf(big + n, sizeof(big) - (size_t)n, " HTTP/1.1\r\nHost: x\r\n\r\n");
	bad("oversized URL", big, (size_t)n, false, 10000);

	n = snprintf(big, sizeof(big), "PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
		     "Content-Length: 60000\r\n\r\n");
	memset(big + n, ' ', 60000);
	bad("oversized body", big, (size_t)n + 60000, false, 10000);

	const char chunked[] = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
			       "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
	bad("chunked body", chunked, sizeof(chunked) - 1, false, 10000);
	const char garbage[] = "\x01\x02\x03 \xff\xfe junk\r\n\r\n";
	bad("binary garbage", garbage, sizeof(garbage) - 1, false, 10000);
	const char not_http[] = "HELLO THERE\r\n\r\n";
	bad("not HTTP", not_http, sizeof(not_http) - 1, false, 10000);
	const char nul_body[] = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
				"\r\n{}\0x";
	bad("NUL in the body", nul_body, sizeof(nul_body) - 1, false, 10000);
}

static void json_cases(void)
{
	bad_request("no body", "PUT", "/machine-config", NULL);
	bad_request("invalid JSON", "PUT", "/machine-config", "{\"vcpu_count\": ");
	bad_request("JSON with trailing data", "PUT", "/machine-config",
		    "{\"vcpu_count\": 1, \"mem_size_mib\": 128} x");
	bad_request("JSON array", "PUT", "/machine-config", "[1, 2]");
	bad_request("JSON null", "PUT", "/boot-source", "null");
	bad_request("deep JSON", "PUT", "/boot-source",
		    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	bad_request("string vcpu_count", "PUT", "/machine-config",
		    "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}");
	bad_request("fractional memory", "PUT", "/machine-config",
		    "{\"vcpu_count\": 1, \"mem_size_mib\": 1.5}");
	bad_request("boolean as string", "PUT", "/machine-config",
		    "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": \"yes\"}");
	bad_request("numeric kernel path", "PUT", "/boot-source", "{\"kernel_image_path\": 5}");
	bad_request("unknown field", "PUT", "/machine-config",
		    "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"bogus\": 1}");
	bad_request("missing field", "PUT", "/machine-config", "{\"vcpu_count\": 1}");
	bad_request("zero vCPUs", "PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 128}");
	bad_request("huge memory", "PUT", "/machine-config",
		    "{\"vcpu_count\": 1, \"mem_size_mib\": 99999999999999999999}");
	bad_request("missing kernel", "PUT", "/boot-source",
		    "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}");
	bad_request("unknown action", "PUT", "/actions", "{\"action_type\": \"Explode\"}");
	bad_request("unknown logger level", "PUT", "/logger", "{\"level\": \"Loud\"}");
	bad_request("metrics without a path", "PUT", "/metrics", "{}");
}

/* Wrong types, unknown fields, missing fields and refused values in the device bodies. Nothing
 * here may be stored: every one is a 400. */
static void device_cases(void)
{
	bad_request("drive: string is_root_device", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", "
		    "\"is_root_device\": \"yes\"}");
	bad_request("drive: unknown field", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", "
		    "\"is_root_device\": false, \"bogus\": 1}");
	bad_request("drive: missing is_root_device", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\"}");
	bad_request("drive: ids differ", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"other\", \"path_on_host\": \"/dev/null\", "
		    "\"is_root_device\": false}");
	bad_request("drive: numeric path", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": 7, \"is_root_device\": false}");
	bad_request("drive: missing image", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/nonexistent.img\", "
		    "\"is_root_device\": false}");
	bad_request("drive: unknown cache_type", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", "
		    "\"is_root_device\": false, \"cache_type\": \"WriteThrough\"}");
	bad_request("drive: rate limiter", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", "
		    "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 1, "
		    "\"refill_time\": 1}}}");
	bad_request("drive: vhost-user socket", "PUT", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"socket\": \"/run/x.sock\", "
		    "\"is_root_device\": false}");
	bad_request("drive: PATCH before boot", "PATCH", "/drives/rootfs",
		    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\"}");
	bad_request("nic: numeric host_dev_name", "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": 0}");
	bad_request("nic: unknown field", "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"queues\": 2}");
	bad_request("nic: multicast MAC", "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
		    "\"01:00:5e:00:00:01\"}");
	bad_request("nic: negative bucket", "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"rx_rate_limiter\": "
		    "{\"bandwidth\": {\"size\": -5, \"refill_time\": 100}}}");
	bad_request("nic: bucket without refill_time", "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"tx_rate_limiter\": "
		    "{\"ops\": {\"size\": 5}}}");
	bad_request("nic: limiter as a list", "PUT", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"tx_rate_limiter\": "
		    "[1]}");
	bad_request("nic: PATCH before boot", "PATCH", "/network-interfaces/eth0",
		    "{\"iface_id\": \"eth0\"}");
	bad_request("vsock: string cid", "PUT", "/vsock",
		    "{\"guest_cid\": \"3\", \"uds_path\": \"/tmp/v.sock\"}");
	bad_request("vsock: host cid", "PUT", "/vsock",
		    "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\"}");
	bad_request("vsock: unknown field", "PUT", "/vsock",
		    "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\", \"port\": 1}");
	bad_request("entropy: rate limiter", "PUT", "/entropy",
		    "{\"rate_limiter\": {\"bandwidth\": {\"size\": 100, \"refill_time\": 10}}}");
	bad_request("entropy: unknown field", "PUT", "/entropy", "{\"source\": \"/dev/random\"}");
	bad_request("balloon: string amount", "PUT", "/balloon",
		    "{\"amount_mib\": \"64\", \"deflate_on_oom\": true}");
	bad_request("balloon: missing deflate_on_oom", "PUT", "/balloon", "{\"amount_mib\": 64}");
	bad_request("balloon: free page hinting", "PUT", "/balloon",
		    "{\"amount_mib\": 0, \"deflate_on_oom\": true, \"free_page_hinting\": true}");
	bad_request("balloon: more than the memory", "PUT", "/balloon",
		    "{\"amount_mib\": 100000, \"deflate_on_oom\": true}");
	bad_request("balloon: GET without one", "GET", "/balloon", NULL);
	bad_request("balloon: PATCH before boot", "PATCH", "/balloon", "{\"amount_mib\": 1}");
	bad_request("balloon: statistics before boot", "GET", "/balloon/statistics", NULL);
}

static void routing_cases(void)
{
	bad_request("id with a dot", "PUT", "/drives/root.fs", "{}");
	bad_request("id with a slash", "PUT", "/drives/a/b", "{}");
	bad_request("id with dots and an escaped slash", "PUT", "/drives/..%2F..", "{}");
	bad_request("empty id", "PUT", "/drives/", "{}");
	bad_request("64+ character id", "PUT", "/network-interfaces/"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "{}");
	bad_request("unknown path", "GET", "/bogus", NULL);
	bad_request("wrong method", "DELETE", "/", NULL);
	bad_request("POST", "POST", "/actions", "{\"action_type\": \"InstanceStart\"}");
	bad_request("query string", "GET", "/?x=1", NULL);
	bad_request("double slash", "GET", "//", NULL);
	bad_request("pause before boot", "PATCH", "/vm", "{\"state\": \"Paused\"}");
	bad_request("Ctrl-Alt-Del before boot", "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}");
	bad_request("unsupported: pmem", "PUT", "/pmem/p0", "{\"id\": \"p0\", \"path_on_host\": \"/x\"}");
	bad_request("unsupported: snapshot", "PUT", "/snapshot/create", "{}");
	bad_request("start without a boot source", "PUT", "/actions",
		    "{\"action_type\": \"InstanceStart\"}");
}

static long count_fds(const char *pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static long rss_kb(const char *pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* A mix of good and bad requests, each on its own connection, some pipelined. */
static void request_loop(int count)
{
	static char reply[REPLY_MAX];
	static const char *const reqs[] = {
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n",
		"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 39\r\n\r\n"
		"{\"vcpu_count\": 2, \"mem_size_mib\": 256}",
		"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"x\":",
		"GET /vm/config HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n"
		"Connection: close\r\n\r\n",
		"PUT /drives/a.b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"BREW /pot HTTP/1.1\r\n\r\n",
	};
	int answered = 0;
	for (int i = 0; i < count; i++) {
		const char *r = reqs[i % (sizeof(reqs) / sizeof(reqs[0]))];
		answered += exchange(r, strlen(r), true, reply, 10000) != 0;
	}
	check(answered == count, "%d of %d requests answered", answered, count);
}

/* The server closes a connection asynchronously after its last reply, so a count taken right
 * after the client's close may still include it: wait until the count is the same twice in a
 * row, 50 ms apart (at most 2 s). */
static long settled_fds(const char *pid)
{
	long prev = count_fds(pid);
	for (int i = 0; i < 40; i++) {
		struct timespec pause = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };
		nanosleep(&pause, NULL);
		long now = count_fds(pid);
		if (now == prev)
			return now;
		prev = now;
	}
	return prev;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: api_fuzz SOCKET PID\n");
		return 2;
	}
	sock_path = argv[1];
	const char *pid = argv[2];
	check(server_alive(), "server answers GET /");
	framing_cases();
	json_cases();
	device_cases();
	routing_cases();

	request_loop(200); /* warm up: allocator pools, lazily mapped pages */
	long fds = settled_fds(pid), rss = rss_kb(pid);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	request_loop(LOOP_REQUESTS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long fds_after = settled_fds(pid), rss_after = rss_kb(pid);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%d requests in %.2f s; fds %ld -> %ld; VmRSS %ld -> %ld kB\n", LOOP_REQUESTS, secs,
	       fds, fds_after, rss, rss_after);
	check(fds > 0 && fds_after == fds, "no file descriptor leaked (%ld -> %ld)", fds, fds_after);
	check(rss > 0 && rss_after - rss <= RSS_SLACK_KB, "no memory leaked (VmRSS %ld -> %ld kB)",
	      rss, rss_after);
	check(server_alive(), "server still serving after the loop");
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
