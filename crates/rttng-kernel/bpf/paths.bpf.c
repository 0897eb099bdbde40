// SPDX-License-Identifier: GPL-2.0-only
//
// rttng: the path strings of the file and exec system calls, which the syscall tracepoints
// record only as pointers. Attached (from Rust, crates/rttng-kernel/src/bpf.rs) to the
// `syscalls/sys_enter_*` tracepoints whose format has a path argument, it copies each path
// argument out of user memory with bpf_probe_read_user_str into the ring buffer `records`, as
// one `struct path_record` per argument. User space matches the records with the tracefs
// `sys_enter` records of the same thread, in order.
//
// It does not decide which arguments are paths (user space attaches `path_argN` where the
// tracepoint format says argument N is one), it records nothing else, and it keeps no per-syscall state. With a pid
// filter (`config[0] != 0`), only threads in `tids` are recorded; `sched_process_fork` adds
// the children of those threads, as tracefs's `event-fork` option does.
//
// Build: crates/rttng-kernel/bpf/build.sh (the object, paths.bpf.o, is committed).

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PATH_BYTES 4096       /* PATH_MAX, the longest path the kernel accepts */
#define MAX_ARGS 6            /* system call arguments */
#define MAX_TIDS 65536        /* threads followed under a pid filter */

/* One path argument of one system call entry. Must match bpf.rs (RECORD_HEADER_BYTES). */
struct path_record {
	__u32 tid;
	__u32 nr;      /* system call number (the tracepoint's __syscall_nr) */
	__u64 ptr;     /* the argument's value, as the tracefs record holds it */
	__u32 arg;     /* argument index, 0..5 */
	__s32 len;     /* bytes copied including the NUL, or a negative errno on fault */
	char path[PATH_BYTES];
};

/* The context of a syscalls/sys_enter_* tracepoint (see its `format` file). */
struct sys_enter_ctx {
	__u64 common;  /* common_type, flags, preempt_count, pid */
	__s32 nr;
	__u32 pad;
	__u64 args[MAX_ARGS];
};

/* The context of a syscalls/sys_exit_* tracepoint. */
struct sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* A path whose page was not resident at entry (a BPF tracepoint program cannot fault pages
 * in): read again at the system call's exit, after the kernel itself has copied it. */
struct pending_key {
	__u32 tid;
	__u32 arg;
};
struct pending_val {
	__u32 nr;
	__u32 pad;
	__u64 ptr;
};

/* x86_64 execve and execveat: after a successful exec the old memory is gone. */
#define NR_EXECVE 59
#define NR_EXECVEAT 322

/* The context of sched/sched_process_fork on kernels with __data_loc comms. */
struct fork_ctx {
	__u64 common;
	__u32 parent_comm_loc;
	__s32 parent_pid;
	__u32 child_comm_loc;
	__s32 child_pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} records SEC(".maps");

/* config[0]: 1 when only the threads in `tids` are recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TIDS);
	__type(key, __u32);
	__type(value, __u32);
} tids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TIDS);
	__type(key, struct pending_key);
	__type(value, struct pending_val);
} pending SEC(".maps");

/* Records that did not fit in the ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline int filtered_out(__u32 tid)
{
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&config, &zero);
	if (!on || !*on)
		return 0;
	return bpf_map_lookup_elem(&tids, &tid) == 0;
}

/* Copy argument `arg` of this system call entry into the ring buffer. */
static __always_inline int emit(struct sys_enter_ctx *ctx, __u32 arg)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (filtered_out(tid))
		return 0;
	struct path_record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}
	r->tid = tid;
	r->nr = (__u32)ctx->nr;
	r->ptr = ctx->args[arg];
	r->arg = arg;
	r->len = bpf_probe_read_user_str(r->path, sizeof(r->path), (const void *)ctx->args[arg]);
	if (r->len == -14 /* EFAULT: not resident yet */) {
		struct pending_key k = { .tid = tid, .arg = arg };
		struct pending_val v = { .nr = r->nr, .ptr = r->ptr };
		if (bpf_map_update_elem(&pending, &k, &v, BPF_ANY) == 0) {
			bpf_ringbuf_discard(r, 0);
			return 0;
		}
	}
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* At a path system call's exit: the paths that faulted at entry, read again. */
SEC("tracepoint/syscalls/sys_exit")
int path_retry(struct sys_exit_ctx *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
#pragma unroll
	for (__u32 arg = 0; arg < MAX_ARGS; arg++) {
		struct pending_key k = { .tid = tid, .arg = arg };
		struct pending_val *v = bpf_map_lookup_elem(&pending, &k);
		if (!v)
			continue;
		int exec_done = (v->nr == NR_EXECVE || v->nr == NR_EXECVEAT) && ctx->ret == 0;
		struct path_record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
		if (r) {
			r->tid = tid;
			r->nr = v->nr;
			r->ptr = v->ptr;
			r->arg = arg;
			if (exec_done)
				r->len = -14;
			else
				r->len = bpf_probe_read_user_str(r->path, sizeof(r->path), (const void *)v->ptr);
			bpf_ringbuf_submit(r, 0);
		} else {
			__u32 zero = 0;
			__u64 *n = bpf_map_lookup_elem(&lost, &zero);
			if (n)
				__sync_fetch_and_add(n, 1);
		}
		bpf_map_delete_elem(&pending, &k);
	}
	return 0;
}

/* One program per argument position: user space attaches path_argN to each sys_enter
 * tracepoint whose argument N is a path (renameat2 gets path_arg1 and path_arg3). */
#define PATH_ARG(N) \
	SEC("tracepoint/syscalls/sys_enter") \
	int path_arg##N(struct sys_enter_ctx *ctx) { return emit(ctx, N); }
PATH_ARG(0)
PATH_ARG(1)
PATH_ARG(2)
PATH_ARG(3)
PATH_ARG(4)
PATH_ARG(5)

SEC("tracepoint/sched/sched_process_fork")
int follow_fork(struct fork_ctx *ctx)
{
	__u32 parent = (__u32)ctx->parent_pid;
	__u32 child = (__u32)ctx->child_pid;
	__u32 one = 1;
	if (bpf_map_lookup_elem(&tids, &parent))
		bpf_map_update_elem(&tids, &child, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
