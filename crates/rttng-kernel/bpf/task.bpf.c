// SPDX-License-Identifier: GPL-2.0-only
//
// rttng: the task contexts of kernel events (vpid, vtid, ppid, vppid, prio, nice, the user and
// group ids and their namespace views, the namespace inode numbers, hostname), which tracefs
// records do not carry. Attached (from Rust, crates/rttng-kernel/src/bpf_task.rs) to every
// tracepoint a kernel channel enables, it writes one `struct task_record` per hit into the
// ring buffer `records`: the thread, the tracepoint's type id, the first bytes of the record's
// payload (the key user space matches the tracefs record with, per thread, in order) and the
// values, read as lttng-modules reads them (src/lttng-context-*.c) from `current`.
//
// A second program, `task_ctx_stacks`, attached instead to the tracepoints of channels with a
// `callstack-kernel` or `callstack-user` context, also walks the call stacks (bpf_get_stack,
// bpf_get_task_stack), as lttng-modules' src/lttng-context-callstack*.c record them.
//
// Field offsets come from the running kernel's BTF (CO-RE: the structs below hold only the
// fields read, marked preserve_access_index; the loader relocates them by name).
//
// It does not decide which contexts a channel records (user space writes what it asked for),
// and it does not filter: every hit is recorded.
//
// Build: crates/rttng-kernel/bpf/build-task.sh (the object, task.bpf.o, is committed).

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define KEY_BYTES 64          /* payload bytes copied as the match key */
#define HOSTNAME_BYTES 65     /* __NEW_UTS_LEN + 1, lttng's hostname context length */
#define MAX_PID_LEVELS 32     /* MAX_PID_NS_LEVEL */
#define BASE_EXTENTS 5        /* UID_GID_MAP_MAX_BASE_EXTENTS */
#define MAX_EXTENTS 340       /* UID_GID_MAP_MAX_EXTENTS */
#define PIDTYPE_TGID 1
#define MAX_RT_PRIO 100
#define DEFAULT_PRIO 120      /* NICE_TO_PRIO(0) */
/* lttng-modules' MAX_ENTRIES (src/lttng-context-callstack-stackwalk-impl.h): the deepest
 * call stack one context records. */
#define MAX_STACK_ENTRIES 128
/* config[2]: which stacks task_ctx_stacks records. */
#define STACK_KERNEL 1
#define STACK_USER 2

#define PAI __attribute__((preserve_access_index))

struct ns_common { unsigned int inum; } PAI;
struct upid { int nr; struct pid_namespace *ns; } PAI;
struct pid { unsigned int level; struct upid numbers[1]; } PAI;
struct pid_namespace { unsigned int level; struct ns_common ns; } PAI;
struct uid_gid_extent { __u32 first; __u32 lower_first; __u32 count; } PAI;
struct uid_gid_map {
	__u32 nr_extents;
	struct uid_gid_extent extent[BASE_EXTENTS];
	struct uid_gid_extent *reverse;
} PAI;
struct user_namespace {
	struct uid_gid_map uid_map;
	struct uid_gid_map gid_map;
	struct ns_common ns;
} PAI;
typedef struct { __u32 val; } kuid_t;
typedef struct { __u32 val; } kgid_t;
struct cred {
	kuid_t uid; kgid_t gid; kuid_t suid; kgid_t sgid; kuid_t euid; kgid_t egid;
	struct user_namespace *user_ns;
} PAI;
struct new_utsname { char nodename[HOSTNAME_BYTES]; } PAI;
struct uts_namespace { struct new_utsname name; struct ns_common ns; } PAI;
struct ipc_namespace { struct ns_common ns; } PAI;
struct mnt_namespace { struct ns_common ns; } PAI;
struct net { struct ns_common ns; } PAI;
struct time_namespace { struct ns_common ns; } PAI;
struct cgroup_namespace { struct ns_common ns; } PAI;
struct nsproxy {
	struct uts_namespace *uts_ns;
	struct ipc_namespace *ipc_ns;
	struct mnt_namespace *mnt_ns;
	struct net *net_ns;
	struct time_namespace *time_ns;
	struct cgroup_namespace *cgroup_ns;
} PAI;
struct signal_struct { struct pid *pids[4]; } PAI;
struct task_struct {
	int prio;
	int static_prio;
	int tgid;
	struct task_struct *real_parent;
	struct pid *thread_pid;
	const struct cred *cred;
	struct nsproxy *nsproxy;
	struct signal_struct *signal;
} PAI;

/* One tracepoint hit. Must match bpf_task.rs (RECORD_BYTES and the offsets there). */
struct task_record {
	__u32 tid;
	__u16 type;          /* the tracepoint's type id (the attach cookie) */
	__u16 key_len;       /* payload bytes in key */
	__u8 key[KEY_BYTES]; /* the record's bytes from offset 8 (after the common fields) */
	__s32 pid, vpid, vtid, ppid, vppid, prio, nice;
	__u32 uid, euid, suid, gid, egid, sgid;
	__u32 vuid, veuid, vsuid, vgid, vegid, vsgid;
	__u32 cgroup_ns, ipc_ns, mnt_ns, net_ns, pid_ns, time_ns, user_ns, uts_ns;
	char hostname[HOSTNAME_BYTES];
	__u8 pad[3];
};

/* What task_ctx_stacks appends to a task_record (bpf_task.rs decodes it): the kernel stack's
 * entries, then the user stack's, each a return address (the first: the interrupted or
 * calling instruction), innermost first. */
struct stacks {
	__u16 kernel_len;    /* entries */
	__u16 user_len;
	__u8 kernel_full;    /* 1: the walk stopped at the depth asked (the stack may go on) */
	__u8 user_full;
	__u16 pad;
	__u64 ips[2 * MAX_STACK_ENTRIES];
};

struct task_stacks_record {
	struct task_record task;
	struct stacks stacks;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 25);
} records SEC(".maps");

/* Tracepoint type id -> payload bytes to copy as the key (user space: the fixed fields). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u32);
} key_lens SEC(".maps");

/* config[0]: overflowuid, config[1]: overflowgid (what an unmapped id reads as);
 * config[2]: STACK_KERNEL | STACK_USER, the stacks task_ctx_stacks records; config[3]: the
 * depth asked of each walk (at most MAX_STACK_ENTRIES; the kernel caps a walk at
 * kernel.perf_event_max_stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* Where task_ctx_stacks builds its record (too large for the BPF stack) before copying the
 * part used into the ring buffer. Tracing programs do not nest on a CPU (the kernel's
 * bpf_prog_active guard), so one per CPU is enough. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct task_stacks_record);
} scratch SEC(".maps");

/* Records that did not fit in the ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* pid_nr_ns(pid, ns): the number of `pid` in namespace `ns`, 0 when it has none there. */
static __always_inline __s32 pid_nr_ns(struct pid *pid, struct pid_namespace *ns, unsigned int level)
{
	if (!pid || !ns || level >= MAX_PID_LEVELS)
		return 0;
	if (BPF_CORE_READ(pid, level) < level)
		return 0;
	struct upid u = {};
	void *base = (void *)pid + bpf_core_field_offset(struct pid, numbers);
	bpf_probe_read_kernel(&u, sizeof(u), base + level * sizeof(struct upid));
	return u.ns == ns ? u.nr : 0;
}

/* map_id_up then the munging of from_kuid_munged: the ids as namespace `map` sees them. */
static __noinline int map_up3(struct uid_gid_map *map, __u32 *ids, __u32 overflow)
{
	__u32 out[3] = { overflow, overflow, overflow };
	__u32 n = BPF_CORE_READ(map, nr_extents);
	struct uid_gid_extent *ext;
	__u32 max;
	if (n <= BASE_EXTENTS) {
		ext = (void *)map + bpf_core_field_offset(struct uid_gid_map, extent);
		max = BASE_EXTENTS;
	} else {
		ext = BPF_CORE_READ(map, reverse);
		max = MAX_EXTENTS;
	}
	for (__u32 i = 0; i < MAX_EXTENTS; i++) {
		if (i >= n || i >= max)
			break;
		struct uid_gid_extent e = {};
		if (bpf_probe_read_kernel(&e, sizeof(e), &ext[i]))
			break;
		for (int k = 0; k < 3; k++) {
			__u32 id = ids[k];
			if (id >= e.lower_first && e.count && id - e.lower_first <= e.count - 1)
				out[k] = id - e.lower_first + e.first;
		}
	}
	ids[0] = out[0];
	ids[1] = out[1];
	ids[2] = out[2];
	return 0;
}

static __always_inline __u32 config_at(__u32 i, __u32 dflt)
{
	__u32 *v = bpf_map_lookup_elem(&config, &i);
	return v ? *v : dflt;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The task values of the current task at tracepoint `ctx`, into the zeroed `r`. */
static __always_inline void fill_task(void *ctx, struct task_record *r)
{
	r->tid = (__u32)bpf_get_current_pid_tgid();
	/* The context's first 8 bytes hold a pt_regs pointer, not the common fields: the type
	 * id comes as the attachment's cookie. */
	__u32 t = (__u32)bpf_get_attach_cookie(ctx);
	r->type = (__u16)t;
	__u32 *lenp = bpf_map_lookup_elem(&key_lens, &t);
	__u32 len = lenp ? *lenp : 0;
	if (len > KEY_BYTES)
		len = KEY_BYTES;
	if (len > 0 && bpf_probe_read_kernel(r->key, len, ctx + 8) == 0)
		r->key_len = len;

	/* A trusted BTF pointer: its fields (and those of what it points to) are read with
	 * direct loads, which the verifier makes fault-safe, instead of a helper call each. */
	struct task_struct *task = bpf_get_current_task_btf();
	r->pid = task->tgid;
	r->prio = task->prio - MAX_RT_PRIO;
	r->nice = task->static_prio - DEFAULT_PRIO;
	struct task_struct *parent = task->real_parent;
	r->ppid = parent->tgid;

	struct nsproxy *nsp = task->nsproxy;
	struct pid *tp = task->thread_pid;
	unsigned int level = tp ? tp->level : 0;
	struct pid_namespace *pns = 0;
	if (tp && level < MAX_PID_LEVELS) {
		struct upid u = {};
		void *base = (void *)tp + bpf_core_field_offset(struct pid, numbers);
		bpf_probe_read_kernel(&u, sizeof(u), base + level * sizeof(struct upid));
		pns = u.ns;
		if (pns)
			r->pid_ns = BPF_CORE_READ(pns, ns.inum);
		/* lttng: 0 while the task exits (no nsproxy). */
		if (nsp) {
			r->vtid = pid_nr_ns(tp, pns, level);
			r->vpid = pid_nr_ns(task->signal->pids[PIDTYPE_TGID], pns, level);
			r->vppid = pid_nr_ns(parent->signal->pids[PIDTYPE_TGID], pns, level);
		}
	}
	if (nsp) {
		struct uts_namespace *uts = nsp->uts_ns;
		r->uts_ns = uts->ns.inum;
		r->ipc_ns = nsp->ipc_ns->ns.inum;
		r->mnt_ns = nsp->mnt_ns->ns.inum;
		r->net_ns = nsp->net_ns->ns.inum;
		r->time_ns = nsp->time_ns->ns.inum;
		r->cgroup_ns = nsp->cgroup_ns->ns.inum;
		bpf_probe_read_kernel_str(r->hostname, sizeof(r->hostname), &uts->name.nodename);
	}

	const struct cred *cred = task->cred;
	r->uid = cred->uid.val;
	r->euid = cred->euid.val;
	r->suid = cred->suid.val;
	r->gid = cred->gid.val;
	r->egid = cred->egid.val;
	r->sgid = cred->sgid.val;
	struct user_namespace *uns = cred->user_ns;
	if (uns) {
		r->user_ns = uns->ns.inum;
		__u32 u[3] = { r->uid, r->euid, r->suid };
		map_up3(&uns->uid_map, u, config_at(0, 65534));
		r->vuid = u[0];
		r->veuid = u[1];
		r->vsuid = u[2];
		__u32 g[3] = { r->gid, r->egid, r->sgid };
		map_up3(&uns->gid_map, g, config_at(1, 65534));
		r->vgid = g[0];
		r->vegid = g[1];
		r->vsgid = g[2];
	}
}

SEC("tracepoint/sched/sched_switch")
int task_ctx(void *ctx)
{
	struct task_record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		count_lost();
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	fill_task(ctx, r);
	/* No wakeup: user space polls the ring on a timer (a wakeup per record costs an irq_work). */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/* task_ctx plus the call stacks config[2] asks for (the callstack-kernel and callstack-user
 * contexts), attached instead of task_ctx to the tracepoints of channels that record them,
 * so that other events do not pay for the walks. */
SEC("tracepoint/sched/sched_switch")
int task_ctx_stacks(void *ctx)
{
	__u32 zero = 0;
	struct task_stacks_record *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	__builtin_memset(&s->task, 0, sizeof(s->task));
	fill_task(ctx, &s->task);
	__u32 which = config_at(2, 0);
	__u32 depth = config_at(3, MAX_STACK_ENTRIES);
	if (depth > MAX_STACK_ENTRIES)
		depth = MAX_STACK_ENTRIES;
	if (depth == 0)
		depth = 1;
	__u64 nk = 0, nu = 0;
	long got;
	if (which & STACK_KERNEL) {
		/* The registers the tracepoint hands over: where it was called from. */
		got = bpf_get_stack(ctx, s->stacks.ips, depth * 8, 0);
		if (got == 0)
			/* A system call tracepoint hands over the user registers (no kernel frame
			 * in them): walk the current kernel stack from here instead. */
			got = bpf_get_task_stack(bpf_get_current_task_btf(), s->stacks.ips,
						 depth * 8, 0);
		nk = got > 0 ? (__u64)got / 8 : 0;
		if (nk > MAX_STACK_ENTRIES)
			nk = MAX_STACK_ENTRIES;
	}
	if (which & STACK_USER) {
		/* Frame pointers from the task's user registers, as lttng-modules'
		 * stack_trace_save_user. */
		got = bpf_get_stack(ctx, &s->stacks.ips[nk], depth * 8, BPF_F_USER_STACK);
		nu = got > 0 ? (__u64)got / 8 : 0;
		if (nu > MAX_STACK_ENTRIES)
			nu = MAX_STACK_ENTRIES;
	}
	s->stacks.kernel_len = nk;
	s->stacks.user_len = nu;
	s->stacks.kernel_full = nk >= depth;
	s->stacks.user_full = nu >= depth;
	__u64 size = sizeof(struct task_record) + 8 + (nk + nu) * 8;
	if (size > sizeof(*s))
		size = sizeof(*s);
	if (bpf_ringbuf_output(&records, s, size, BPF_RB_NO_WAKEUP))
		count_lost();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
