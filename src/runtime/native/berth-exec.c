/*
 * berth-exec: runs one process inside a running container, the way
 * `runc exec` does, without runc.
 *
 * Why this exists: `runc exec` costs ~35 ms here, and 20 ms of that is
 * libseccomp compiling the container's seccomp profile again in the Go
 * `runc init` for every exec. berthd compiles each distinct profile once
 * (`berth-exec compile-seccomp`, with the same libseccomp runc uses) and this
 * helper applies the cached BPF; everything else runc's setns path does is a
 * handful of syscalls that Node cannot make itself (setns needs a
 * single-threaded process; capset, seccomp and PR_* have no Node API).
 *
 * What it does, in runc's order (libcontainer/setns_init_linux.go and
 * finalizeNamespace): join the container's namespaces (taken from its init
 * process), fork so the child is inside the PID namespace, move the child
 * into the container's cgroups (only the child: this helper stays outside,
 * as runc does); in the child: new session, rlimits, no_new_privs, seccomp (early
 * when no_new_privs is off, as it then needs CAP_SYS_ADMIN), the bounding
 * set, groups/gid/uid with keep-caps, chdir, the remaining capability sets,
 * umask, and execve with PATH looked up inside the container. The parent
 * reports on the status fd (fd 3) "pid N", then "exit N" when the child ends;
 * the child reports a failure to start as "err TEXT" (runc's words) before
 * exiting 255. stdio is inherited: berthd hands in pipes.
 *
 * Usage:
 *   berth-exec run --pid PID [--expect-cgroup PATH] [--cgroup PROCS_FILE]... [--uid N] [--gid N]
 *       [--groups a,b] [--cwd DIR] [--caps BND,EFF,PRM,INH,AMB (hex)]
 *       [--nnp] [--seccomp BPF_FILE] [--rlimit RES,SOFT,HARD]... [--umask OCT]
 *       [--tty ROWS,COLS]     (a pty; then fd 4 takes "ROWS COLS" resize lines)
 *       -- ARGV...            (the environment is the process's environment)
 *   berth-exec compile-seccomp OUT_FILE < PROFILE_TEXT
 *       PROFILE_TEXT lines:  default ACTION ERRNO | arch NAME |
 *                            rule ACTION ERRNO SYSCALL [IDX OP VALUE VALUE2]...
 *
 * Written in C because it must be one small single-threaded process that
 * starts in about a millisecond; no library does this job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define STATUS_FD 3
#define CONTROL_FD 4
#define MAX_LIST 64

static void die(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  /* only on the status fd: stderr is the user's stream */
  if (dprintf(STATUS_FD, "err %s\n", buf) < 0) fprintf(stderr, "berth-exec: %s\n", buf);
  _exit(255);
}

/* strerror in Go's words (runc's messages come from Go: lowercase, "no such file or directory") */
static const char *gerr(int e) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s", strerror(e));
  if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

#define START_FAILED "exec failed: unable to start container process: "

/* ---- compile-seccomp ----------------------------------------------------- */

static int parse_action(const char *name, unsigned errno_ret, uint32_t *out) {
  if (strcmp(name, "SCMP_ACT_ALLOW") == 0) *out = SCMP_ACT_ALLOW;
  else if (strcmp(name, "SCMP_ACT_ERRNO") == 0) *out = SCMP_ACT_ERRNO(errno_ret);
  else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0) *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0) *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp(name, "SCMP_ACT_TRAP") == 0) *out = SCMP_ACT_TRAP;
  else if (strcmp(name, "SCMP_ACT_TRACE") == 0) *out = SCMP_ACT_TRACE(errno_ret);
  else if (strcmp(name, "SCMP_ACT_LOG") == 0) *out = SCMP_ACT_LOG;
  else return -1;
  return 0;
}

static int parse_op(const char *name, enum scmp_compare *out) {
  static const struct { const char *n; enum scmp_compare op; } ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(name, ops[i].n) == 0) { *out = ops[i].op; return 0; }
  return -1;
}

static int compile_seccomp(const char *out_path) {
  char line[4096];
  scmp_filter_ctx ctx = NULL;
  uint32_t def = 0;
  int lineno = 0;
  while (fgets(line, sizeof line, stdin) != NULL) {
    lineno++;
    char *save = NULL;
    char *kind = strtok_r(line, " \n", &save);
    if (kind == NULL) continue;
    if (strcmp(kind, "default") == 0) {
      char *act = strtok_r(NULL, " \n", &save), *er = strtok_r(NULL, " \n", &save);
      if (act == NULL || er == NULL || parse_action(act, (unsigned)strtoul(er, NULL, 10), &def) != 0) {
        fprintf(stderr, "line %d: bad default action\n", lineno);
        return 2;
      }
      ctx = seccomp_init(def);
      if (ctx == NULL) { fprintf(stderr, "seccomp_init failed\n"); return 1; }
      /* berth-exec loads the program itself, after deciding on no_new_privs */
      seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
      continue;
    }
    if (ctx == NULL) { fprintf(stderr, "line %d: 'default' must come first\n", lineno); return 2; }
    if (strcmp(kind, "arch") == 0) {
      char *name = strtok_r(NULL, " \n", &save);
      uint32_t a = name != NULL ? seccomp_arch_resolve_name(name) : 0;
      if (a == 0) continue; /* an architecture libseccomp does not know: runc skips it too */
      int r = seccomp_arch_add(ctx, a);
      if (r != 0 && r != -EEXIST) { fprintf(stderr, "arch %s: %s\n", name, strerror(-r)); return 1; }
      continue;
    }
    if (strcmp(kind, "rule") == 0) {
      char *act = strtok_r(NULL, " \n", &save), *er = strtok_r(NULL, " \n", &save);
      char *name = strtok_r(NULL, " \n", &save);
      uint32_t action;
      if (act == NULL || er == NULL || name == NULL || parse_action(act, (unsigned)strtoul(er, NULL, 10), &action) != 0) {
        fprintf(stderr, "line %d: bad rule\n", lineno);
        return 2;
      }
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue; /* unknown to this libseccomp: ignored, as runc does */
      if (action == def) continue;         /* libseccomp refuses rules equal to the default */
      struct scmp_arg_cmp args[6];
      unsigned n = 0;
      char *tok;
      while ((tok = strtok_r(NULL, " \n", &save)) != NULL) {
        char *op = strtok_r(NULL, " \n", &save), *v1 = strtok_r(NULL, " \n", &save), *v2 = strtok_r(NULL, " \n", &save);
        enum scmp_compare cmp;
        if (op == NULL || v1 == NULL || v2 == NULL || n >= 6 || parse_op(op, &cmp) != 0) {
          fprintf(stderr, "line %d: bad argument condition\n", lineno);
          return 2;
        }
        args[n].arg = (unsigned)strtoul(tok, NULL, 10);
        args[n].op = cmp;
        args[n].datum_a = strtoull(v1, NULL, 10);
        args[n].datum_b = strtoull(v2, NULL, 10);
        n++;
      }
      int r = seccomp_rule_add_array(ctx, action, nr, n, args);
      if (r != 0) { fprintf(stderr, "rule %s: %s\n", name, strerror(-r)); return 1; }
      continue;
    }
    fprintf(stderr, "line %d: unknown kind '%s'\n", lineno, kind);
    return 2;
  }
  if (ctx == NULL) { fprintf(stderr, "empty profile\n"); return 2; }
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", out_path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) { fprintf(stderr, "%s: %s\n", tmp, strerror(errno)); return 1; }
  int r = seccomp_export_bpf(ctx, fd);
  seccomp_release(ctx);
  if (r != 0 || fsync(fd) != 0 || close(fd) != 0) { unlink(tmp); fprintf(stderr, "export failed\n"); return 1; }
  /* committed by rename: a reader never sees half a program */
  if (rename(tmp, out_path) != 0) { unlink(tmp); fprintf(stderr, "rename: %s\n", strerror(errno)); return 1; }
  return 0;
}

/* ---- run ----------------------------------------------------------------- */

struct opts {
  pid_t pid;
  const char *expect_cgroup; /* --expect-cgroup: the container's cgroup path, to prove --pid is still its init */
  const char *cgroups[MAX_LIST];
  int ncgroups;
  int has_uid, has_gid;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_LIST];
  int ngroups;
  const char *cwd;
  uint64_t caps[5]; /* bounding, effective, permitted, inheritable, ambient */
  int has_caps;
  int nnp;
  const char *seccomp;
  struct { int res; rlim_t soft, hard; } rlimits[MAX_LIST];
  int nrlimits;
  mode_t umask;
  int tty;               /* --tty ROWS,COLS: a pty made in the container's devpts */
  unsigned short rows, cols;
  char **argv;
};

static unsigned long long num(const char *s, int base, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno != 0 || end == s || *end != '\0') die("bad %s: %s", what, s);
  return v;
}

static void parse(int argc, char **argv, struct opts *o) {
  memset(o, 0, sizeof *o);
  o->umask = 022;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--") == 0) { o->argv = &argv[i + 1]; break; }
    if (strcmp(a, "--nnp") == 0) { o->nnp = 1; continue; }
    if (v == NULL) die("%s needs a value", a);
    i++;
    if (strcmp(a, "--pid") == 0) o->pid = (pid_t)num(v, 10, "pid");
    else if (strcmp(a, "--expect-cgroup") == 0) o->expect_cgroup = v;
    else if (strcmp(a, "--cgroup") == 0) { if (o->ncgroups < MAX_LIST) o->cgroups[o->ncgroups++] = v; }
    else if (strcmp(a, "--uid") == 0) { o->uid = (uid_t)num(v, 10, "uid"); o->has_uid = 1; }
    else if (strcmp(a, "--gid") == 0) { o->gid = (gid_t)num(v, 10, "gid"); o->has_gid = 1; }
    else if (strcmp(a, "--groups") == 0) {
      char *copy = strdup(v), *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t != NULL && o->ngroups < MAX_LIST; t = strtok_r(NULL, ",", &save))
        o->groups[o->ngroups++] = (gid_t)num(t, 10, "group");
    } else if (strcmp(a, "--cwd") == 0) o->cwd = v;
    else if (strcmp(a, "--caps") == 0) {
      char *copy = strdup(v), *save = NULL;
      int n = 0;
      for (char *t = strtok_r(copy, ",", &save); t != NULL && n < 5; t = strtok_r(NULL, ",", &save)) o->caps[n++] = num(t, 16, "caps");
      if (n != 5) die("--caps needs five masks");
      o->has_caps = 1;
    } else if (strcmp(a, "--seccomp") == 0) o->seccomp = v;
    else if (strcmp(a, "--rlimit") == 0) {
      char *copy = strdup(v), *save = NULL;
      char *r = strtok_r(copy, ",", &save), *s = strtok_r(NULL, ",", &save), *h = strtok_r(NULL, ",", &save);
      if (r == NULL || s == NULL || h == NULL || o->nrlimits >= MAX_LIST) die("bad rlimit: %s", v);
      o->rlimits[o->nrlimits].res = (int)num(r, 10, "rlimit");
      o->rlimits[o->nrlimits].soft = strcmp(s, "-1") == 0 ? RLIM_INFINITY : (rlim_t)num(s, 10, "rlimit");
      o->rlimits[o->nrlimits].hard = strcmp(h, "-1") == 0 ? RLIM_INFINITY : (rlim_t)num(h, 10, "rlimit");
      o->nrlimits++;
    } else if (strcmp(a, "--umask") == 0) o->umask = (mode_t)num(v, 8, "umask");
    else if (strcmp(a, "--tty") == 0) {
      char *copy = strdup(v), *save = NULL;
      char *r = strtok_r(copy, ",", &save), *c = strtok_r(NULL, ",", &save);
      if (r == NULL || c == NULL) die("bad --tty: %s", v);
      o->tty = 1;
      o->rows = (unsigned short)num(r, 10, "rows");
      o->cols = (unsigned short)num(c, 10, "cols");
    }
    else die("unknown option %s", a);
  }
  if (o->pid <= 0) die("--pid is required");
  if (o->argv == NULL || o->argv[0] == NULL) die("no command");
}

/* Reads a whole small file (the BPF program: a few KiB). */
static void *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open %s: %s", path, gerr(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (1 << 20)) die("bad seccomp program %s", path);
  char *buf = malloc((size_t)st.st_size);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r <= 0) die("read %s: %s", path, r < 0 ? gerr(errno) : "short read");
    got += (size_t)r;
  }
  close(fd);
  *len = got;
  return buf;
}

static void load_seccomp(struct sock_fprog *prog) {
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) != 0) die(START_FAILED "error loading seccomp filter: %s", gerr(errno));
}

static int capset_all(const uint64_t *c) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  d[0].effective = (uint32_t)c[1];
  d[1].effective = (uint32_t)(c[1] >> 32);
  d[0].permitted = (uint32_t)c[2];
  d[1].permitted = (uint32_t)(c[2] >> 32);
  d[0].inheritable = (uint32_t)c[3];
  d[1].inheritable = (uint32_t)(c[3] >> 32);
  return (int)syscall(SYS_capset, &h, d);
}

static int last_cap(void) {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 40;
  char b[16] = {0};
  ssize_t r = read(fd, b, sizeof b - 1);
  close(fd);
  return r > 0 ? atoi(b) : 40;
}

/* Go's exec.LookPath as runc uses it: a name with a slash is taken as is,
 * otherwise searched in the process's PATH; an entry must be a regular
 * file with an execute bit. The message is runc's. */
static const char *look_path(const char *file, char *buf, size_t size) {
  struct stat st;
  if (strchr(file, '/') != NULL) {
    if (stat(file, &st) != 0) die(START_FAILED "exec: \"%s\": stat %s: %s", file, file, gerr(errno));
    if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0) die(START_FAILED "exec: \"%s\": permission denied", file);
    return file;
  }
  const char *path = getenv("PATH");
  if (path == NULL) path = "";
  const char *p = path;
  for (;;) {
    const char *colon = strchr(p, ':');
    size_t len = colon != NULL ? (size_t)(colon - p) : strlen(p);
    if (len == 0) snprintf(buf, size, "./%s", file);
    else snprintf(buf, size, "%.*s/%s", (int)len, p, file);
    if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111) != 0) return buf;
    if (colon == NULL) break;
    p = colon + 1;
  }
  die(START_FAILED "exec: \"%s\": executable file not found in $PATH", file);
  return NULL;
}

static volatile sig_atomic_t child_exited;
static void on_chld(int sig) { (void)sig; child_exited = 1; }

static int write_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { struct pollfd p = {fd, POLLOUT, 0}; poll(&p, 1, 100); continue; }
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/*
 * The parent's side of a TTY exec: stdin (from berthd) -> pty master ->
 * stdout (to berthd), and "ROWS COLS" lines on fd 4 resize the pty. Ends when
 * the process has exited and the pty has no more output, then reports the
 * exit code as the non-TTY path does.
 */
static int relay_tty(int master, pid_t child) {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, NULL);
  int in_open = 1, ctl_open = fcntl(CONTROL_FD, F_GETFD) >= 0;
  char buf[32768], ctl[256];
  size_t ctl_len = 0;
  int status = 0, reaped = 0;
  for (;;) {
    if (!reaped && child_exited) {
      if (waitpid(child, &status, WNOHANG) == child) reaped = 1;
    }
    struct pollfd p[3] = {{master, POLLIN, 0}, {0, in_open ? POLLIN : 0, 0}, {CONTROL_FD, ctl_open ? POLLIN : 0, 0}};
    /* once the process is gone, only what the pty still holds is read out */
    int n = poll(p, 3, reaped ? 0 : 200);
    if (n < 0) { if (errno == EINTR) continue; break; }
    if (n == 0) { if (reaped) break; continue; }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r > 0) { if (write_all(1, buf, (size_t)r) != 0) { /* berthd went away: keep the process running */ } }
      else if (r < 0 && errno == EINTR) continue;
      else if (reaped || r == 0 || errno == EIO) {
        /* EIO: every slave descriptor is closed */
        if (!reaped) { while (waitpid(child, &status, 0) < 0 && errno == EINTR) {} reaped = 1; }
        break;
      }
    }
    if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0) write_all(master, buf, (size_t)r);
      else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) in_open = 0;
    }
    if (ctl_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(CONTROL_FD, ctl + ctl_len, sizeof ctl - 1 - ctl_len);
      if (r <= 0) { if (r == 0 || errno != EINTR) ctl_open = 0; continue; }
      ctl_len += (size_t)r;
      ctl[ctl_len] = '\0';
      char *nl;
      while ((nl = strchr(ctl, '\n')) != NULL) {
        *nl = '\0';
        unsigned rows = 0, cols = 0;
        if (sscanf(ctl, "%u %u", &rows, &cols) == 2 && rows > 0 && cols > 0) {
          struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
          ioctl(master, TIOCSWINSZ, &ws);
        }
        size_t used = (size_t)(nl - ctl) + 1;
        memmove(ctl, nl + 1, ctl_len - used + 1);
        ctl_len -= used;
      }
      if (ctl_len >= sizeof ctl - 1) ctl_len = 0;
    }
  }
  if (!reaped) while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  dprintf(STATUS_FD, "exit %d\n", code);
  return 0;
}

/* Whether some hierarchy in /proc/PID/cgroup places the process at `path` or below it. */
static int in_cgroup(pid_t pid, const char *path) {
  char p[64], line[4096];
  snprintf(p, sizeof p, "/proc/%d/cgroup", (int)pid);
  FILE *f = fopen(p, "re");
  if (f == NULL) return 0;
  int found = 0;
  size_t n = strlen(path);
  while (!found && fgets(line, sizeof line, f) != NULL) {
    char *c = strchr(line, ':');
    c = c != NULL ? strchr(c + 1, ':') : NULL;
    if (c == NULL) continue;
    c++;
    size_t l = strcspn(c, "\n");
    /* the container's cgroup or one below it (an init may move itself into a child group) */
    found = l >= n && strncmp(c, path, n) == 0 && (l == n || c[n] == '/');
  }
  fclose(f);
  return found;
}

static const char *const NS[] = {"ipc", "uts", "net", "pid", "cgroup", "mnt"};
#define NNS (sizeof NS / sizeof NS[0])

static int run(int argc, char **argv) {
  struct opts o;
  parse(argc, argv, &o);
  if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) != 0) die("status fd: %s", gerr(errno));

  /* Everything on the host side is opened before entering the mount namespace. */
  int nsfd[NNS];
  for (size_t i = 0; i < NNS; i++) {
    char p[64], self[64];
    struct stat a, b;
    snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)o.pid, NS[i]);
    snprintf(self, sizeof self, "/proc/self/ns/%s", NS[i]);
    nsfd[i] = -1;
    if (stat(p, &a) != 0) {
      if (errno == ENOENT && strcmp(NS[i], "cgroup") == 0) continue; /* kernel without cgroup namespaces */
      die("container process %d is gone: %s", (int)o.pid, gerr(errno));
    }
    if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) continue; /* shared with the host (e.g. --network host) */
    nsfd[i] = open(p, O_RDONLY | O_CLOEXEC);
    if (nsfd[i] < 0) die("open %s: %s", p, gerr(errno));
  }
  /* With the namespaces held, prove the PID was still the container's init when they were
   * taken (a PID reused after the container died would lead into someone else's): it must
   * sit in the container's cgroup now, and it cannot have moved back in since. */
  if (o.expect_cgroup != NULL && !in_cgroup(o.pid, o.expect_cgroup)) die("container process %d is gone", (int)o.pid);
  struct sock_fprog prog = {0, NULL};
  if (o.seccomp != NULL) {
    size_t len;
    void *code = slurp(o.seccomp, &len);
    if (len % sizeof(struct sock_filter) != 0) die("bad seccomp program %s", o.seccomp);
    prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    prog.filter = code;
  }
  /* The cgroup files are opened here, on the host; the parent moves only the
   * child into them (as runc moves runc init), so the waiting helper is not
   * counted in the container's pids/memory nor listed by `docker top`. */
  int cgfd[MAX_LIST];
  for (int i = 0; i < o.ncgroups; i++) {
    cgfd[i] = open(o.cgroups[i], O_WRONLY | O_CLOEXEC);
    if (cgfd[i] < 0) die("join cgroup %s: %s", o.cgroups[i], gerr(errno));
  }
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) die("pipe: %s", gerr(errno));
  for (size_t i = 0; i < NNS; i++) {
    if (nsfd[i] < 0) continue;
    if (setns(nsfd[i], 0) != 0) die("setns %s: %s", NS[i], gerr(errno));
    close(nsfd[i]);
  }

  /* A TTY exec gets a pty of the container's own devpts (its /dev/ptmx), as runc's console does. */
  int master = -1;
  char slave[64] = "";
  if (o.tty) {
    master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || unlockpt(master) != 0 || ptsname_r(master, slave, sizeof slave) != 0) die(START_FAILED "failed to create a pty: %s", gerr(errno));
    if (o.rows > 0 && o.cols > 0) {
      struct winsize ws = {o.rows, o.cols, 0, 0};
      ioctl(master, TIOCSWINSZ, &ws);
    }
  }

  pid_t child = fork();
  if (child < 0) die("fork: %s", gerr(errno));
  if (child > 0) {
    close(sync[0]);
    char pidbuf[32];
    int pidlen = snprintf(pidbuf, sizeof pidbuf, "%d", (int)child);
    for (int i = 0; i < o.ncgroups; i++) {
      if (write(cgfd[i], pidbuf, (size_t)pidlen) != pidlen) {
        kill(child, SIGKILL);
        die("join cgroup %s: %s", o.cgroups[i], gerr(errno));
      }
      close(cgfd[i]);
    }
    /* now the child may go on: it is counted and limited like the container */
    if (write(sync[1], "g", 1) != 1) { kill(child, SIGKILL); die("sync: %s", gerr(errno)); }
    close(sync[1]);
    dprintf(STATUS_FD, "pid %d\n", (int)child);
    if (o.tty) return relay_tty(master, child);
    /* The child holds the stdio pipes; dropping ours lets berthd see EOF when it ends. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
    signal(SIGPIPE, SIG_IGN);
    int status;
    while (waitpid(child, &status, 0) < 0) {
      if (errno != EINTR) { dprintf(STATUS_FD, "exit 255\n"); return 255; }
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    dprintf(STATUS_FD, "exit %d\n", code);
    return 0;
  }

  /* child: inside every namespace; waits until the parent has put it in the container's cgroups */
  close(sync[1]);
  char go;
  if (read(sync[0], &go, 1) != 1) _exit(255);
  close(sync[0]);
  if (setsid() < 0) die("setsid: %s", gerr(errno));
  if (o.tty) {
    /* the pty becomes the controlling terminal and all of stdio */
    int fd = open(slave, O_RDWR);
    if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) != 0) die(START_FAILED "failed to open the pty %s: %s", slave, gerr(errno));
    if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) die(START_FAILED "dup2: %s", gerr(errno));
    if (fd > 2) close(fd);
  }
  /* leave no berthd descriptor behind in the container (the status fd is close-on-exec) */
  syscall(SYS_close_range, 4, ~0U, 0);
  for (int i = 0; i < o.nrlimits; i++) {
    struct rlimit rl = {o.rlimits[i].soft, o.rlimits[i].hard};
    if (setrlimit(o.rlimits[i].res, &rl) != 0) die("error setting rlimit type %d: %s", o.rlimits[i].res, gerr(errno));
  }
  if (o.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("set no_new_privs: %s", gerr(errno));
  if (o.seccomp != NULL && !o.nnp) load_seccomp(&prog);
  if (o.has_caps) {
    int last = last_cap();
    for (int c = 0; c <= last; c++)
      if (!(o.caps[0] & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
        die(START_FAILED "unable to apply caps: %s", gerr(errno));
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) die("keepcaps: %s", gerr(errno));
  }
  if (setgroups((size_t)o.ngroups, o.groups) != 0) die(START_FAILED "setgroups: %s", gerr(errno));
  if (o.has_gid && setresgid(o.gid, o.gid, o.gid) != 0) die("setgid: %s", gerr(errno));
  if (o.has_uid && setresuid(o.uid, o.uid, o.uid) != 0) die("setuid: %s", gerr(errno));
  if (o.cwd != NULL && chdir(o.cwd) != 0)
    die(START_FAILED "chdir to cwd (\"%s\") set in config.json failed: %s", o.cwd, gerr(errno));
  if (o.has_caps) {
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) die("keepcaps: %s", gerr(errno));
    if (capset_all(o.caps) != 0) die(START_FAILED "unable to apply caps: %s", gerr(errno));
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    for (int c = 0; c < 64; c++)
      if ((o.caps[4] & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
        die(START_FAILED "unable to apply caps: %s", gerr(errno));
  }
  umask(o.umask);
  char found[PATH_MAX];
  const char *file = look_path(o.argv[0], found, sizeof found);
  /* the last step before execve, as runc does with no_new_privs: fewer syscalls to allow */
  if (o.seccomp != NULL && o.nnp) load_seccomp(&prog);
  extern char **environ;
  execve(file, o.argv, environ);
  if (errno == EACCES) die(START_FAILED "exec: \"%s\": permission denied", o.argv[0]);
  die(START_FAILED "exec %s: %s", o.argv[0], gerr(errno));
  return 255;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "compile-seccomp") == 0) return compile_seccomp(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "run") == 0) return run(argc, argv);
  fprintf(stderr, "usage: berth-exec run --pid PID [...] -- ARGV... | berth-exec compile-seccomp OUT < PROFILE\n");
  return 2;
}
