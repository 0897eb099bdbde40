//! Which arguments of the system call tracepoints are paths, and where a `sys_enter` record
//! holds them: the knowledge the eBPF path recorder (`bpf.rs`) and the CTF conversion
//! (`convert.rs`, which makes those fields strings) share. Pure functions over formats and
//! record bytes. Not here: reading the strings (`bpf.rs`).

use crate::format::{EventFormat, FormatField};

/// System call arguments.
pub const MAX_ARGS: usize = 6;

/// Argument names that hold a path in the system call tracepoints (the kernel's parameter
/// names, which lttng-modules also uses for its string fields).
pub const PATH_ARG_NAMES: &[&str] = &[
    "filename",
    "pathname",
    "oldname",
    "newname",
    "path",
    "from_pathname",
    "to_pathname",
    "dir_name",
    "new_root",
    "put_old",
    "specialfile",
];

/// Whether a syscall tracepoint field is a path argument: a `char *` named as a path.
pub fn is_path_field(f: &FormatField) -> bool {
    let t = f.c_type.replace(' ', "");
    (t == "constchar*" || t == "char*") && PATH_ARG_NAMES.contains(&f.name.as_str())
}

/// Bit N set when argument N of this `syscalls:sys_enter_*` event is a path; 0 for any other
/// event.
pub fn path_arg_mask(fmt: &EventFormat) -> u8 {
    if fmt.system != "syscalls" || !fmt.name.starts_with("sys_enter_") {
        return 0;
    }
    // Each system call costs two tracepoint attachments, and detaching one waits for an RCU
    // grace period (~70 ms here, partly serialised in the kernel): covering all ~50 path
    // system calls made every stop take 5–10 s. These are the ones programs use most.
    let call = &fmt.name["sys_enter_".len()..];
    if !PATH_SYSCALLS.contains(&call) {
        return 0;
    }
    let mut mask = 0u8;
    let args = fmt
        .fields
        .iter()
        .filter(|f| !f.common && f.name != "__syscall_nr");
    for (i, f) in args.enumerate().take(MAX_ARGS) {
        if is_path_field(f) {
            mask |= 1 << i;
        }
    }
    mask
}

/// The system calls whose path arguments are recorded as strings (the others keep pointers).
pub const PATH_SYSCALLS: &[&str] = &[
    "openat",
    "openat2",
    "open",
    "execve",
    "execveat",
    "newfstatat",
    "statx",
    "faccessat2",
    "readlinkat",
    "unlinkat",
];

/// The offset of argument `arg` in a `sys_enter` record (after the common header and
/// `__syscall_nr`).
pub fn arg_offset(arg: u8) -> usize {
    16 + 8 * usize::from(arg)
}

/// A `sys_enter` record's thread, system call number and argument `arg`, as the BPF record
/// holds them.
pub fn enter_key(data: &[u8], arg: u8) -> Option<(u32, u32, u64)> {
    let tid = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
    let nr = u32::from_le_bytes(data.get(8..12)?.try_into().ok()?);
    let off = arg_offset(arg);
    let ptr = u64::from_le_bytes(data.get(off..off + 8)?.try_into().ok()?);
    Some((tid, nr, ptr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse_format;

    const OPENAT: &str = "name: sys_enter_openat\nID: 782\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n\
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;\n\nprint fmt: \"\"\n";

    #[test]
    fn openat_filename_is_argument_1() {
        let f = parse_format("syscalls", OPENAT).expect("format");
        assert_eq!(path_arg_mask(&f), 0b10);
        let mut other = f.clone();
        other.system = "sched".to_string();
        assert_eq!(path_arg_mask(&other), 0);
    }
}
