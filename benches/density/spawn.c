/* clone(CLONE_VM | CLONE_VFORK) + execve, like posix_spawn, but with the two things posix_spawn
 * cannot do: PR_SET_PDEATHSIG and a report of the exec's errno through shared memory. The child
 * runs on its own small stack and touches nothing but its argument block. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

extern char **environ;

#define CHILD_STACK_SIZE (64 * 1024)
/* One page per pipe: the VM writes a line or two, and every byte of pipe buffer would be
 * counted as per-VM kernel memory. */
#define PIPE_SIZE 4096

struct spawn_block {
	char *const *argv;
	int null_fd, out_w;
	pid_t parent;
	sigset_t mask;         /* the mask to exec with */
	int err;               /* errno of the step that failed, 0 after a successful exec */
};

static int handled_signals[8];
static int nhandled;

void density_spawn_set_handled_signals(const int *sigs, int n)
{
	nhandled = 0;
	for (int i = 0; i < n && i < (int)(sizeof(handled_signals) / sizeof(handled_signals[0])); i++)
		handled_signals[nhandled++] = sigs[i];
}

static _Noreturn void child_fail(struct spawn_block *b)
{
	b->err = errno ? errno : EINVAL;
	_exit(127);
}

static int spawn_child(void *arg)
{
	struct spawn_block *b = arg;
	/* All signals are blocked here. A handler of the launcher must not run in this child (it
	 * shares the launcher's memory until the exec), so reset them before unblocking. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int i = 0; i < nhandled; i++)
		sigaction(handled_signals[i], &dfl, NULL);
	sigaction(SIGPIPE, &dfl, NULL); /* an ignored signal would stay ignored across exec */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(b);
	if (getppid() != b->parent) { /* the launcher died before the prctl took effect */
		errno = ESRCH;
		child_fail(b);
	}
	if (setpgid(0, 0) < 0 || dup2(b->null_fd, STDIN_FILENO) < 0 ||
	    dup2(b->out_w, STDOUT_FILENO) < 0 || dup2(b->out_w, STDERR_FILENO) < 0)
		child_fail(b);
	sigprocmask(SIG_SETMASK, &b->mask, NULL);
	execve(b->argv[0], b->argv, environ);
	child_fail(b);
}

pid_t density_spawn(char *const argv[], int null_fd, int *out_fd, uint64_t *spawn_ns,
		    struct error *e)
{
	static _Alignas(16) uint8_t child_stack[CHILD_STACK_SIZE];
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return error_errno(e, "pipe");
	fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE);

	struct spawn_block b = { .argv = argv, .null_fd = null_fd, .out_w = fds[1],
				 .parent = getpid() };
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &b.mask);
	*spawn_ns = density_now_ns();
	pid_t pid = clone(spawn_child, child_stack + sizeof(child_stack),
			  CLONE_VM | CLONE_VFORK | SIGCHLD, &b);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &b.mask, NULL);
	close(fds[1]);

	if (pid < 0) {
		close(fds[0]);
		errno = clone_errno;
		return error_errno(e, "cannot start a process");
	}
	if (b.err) { /* the child has exited (status 127): collect it */
		waitpid(pid, NULL, 0);
		close(fds[0]);
		errno = b.err;
		return error_errno(e, "cannot execute %s", argv[0]);
	}
	*out_fd = fds[0];
	return pid;
}
