//! `--mi xml`: lttng's machine interface for the commands scripts use most (version, list,
//! create, enable-event, start, stop, destroy), as documents valid against LTTng's schema
//! (`mi-lttng-4.1.xsd`) with lttng 2.13's element names and order. Pure formatting of what
//! the session daemon answered. Not here: running the commands (`session_cmd.rs`), other
//! commands (refused under `--mi` with lttng's "not implemented" status).

use rttng_ctl::proto::{
    Buffers, ChannelInfo, Domain, LoglevelRule, ProcessAttr, RuleFilter, SessionDetail,
    SessionSummary, TrackerInfo,
};

/// The opening of every document (lttng's namespace, schema location and version).
const HEAD: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<command xmlns=\"https://lttng.org/xml/ns/lttng-mi\" ",
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
    "xsi:schemaLocation=\"https://lttng.org/xml/ns/lttng-mi ",
    "https://lttng.org/xml/schemas/lttng-mi/4/lttng-mi-4.1.xsd\" schemaVersion=\"4.1\">"
);

/// `s` with XML's special characters escaped, for element text (as libxml2's writer,
/// which lttng uses: quotes stay; no attribute carries data here).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

fn el(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", esc(value))
}

/// A whole document: `<command><name>…</name><output>…</output>[<success>…]</command>`.
pub fn document(command: &str, output: &str, success: Option<bool>) -> String {
    let out = if output.is_empty() {
        "<output/>".to_string()
    } else {
        format!("<output>{output}</output>")
    };
    let success = success
        .map(|s| el("success", bool_str(s)))
        .unwrap_or_default();
    format!("{HEAD}{}{out}{success}</command>\n", el("name", command))
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// lttng's session element without its domains.
fn session_fields(name: &str, path: &str, enabled: bool, snapshot: bool) -> String {
    format!(
        "{}{}{}{}{}",
        el("name", name),
        el("path", path),
        el("enabled", bool_str(enabled)),
        el("snapshot_mode", if snapshot { "1" } else { "0" }),
        // rttng reports no live timer per session here: 0, as lttng shows non-live ones.
        el("live_timer_interval", "0"),
    )
}

pub fn session(s: &SessionSummary) -> String {
    format!(
        "<session>{}</session>",
        session_fields(&s.name, &s.output, s.active, s.snapshot)
    )
}

pub fn sessions(list: &[SessionSummary]) -> String {
    if list.is_empty() {
        return "<sessions/>".to_string();
    }
    let inner: String = list.iter().map(session).collect();
    format!("<sessions>{inner}</sessions>")
}

/// `start`/`stop`: `<sessions><session><name/><enabled/></session></sessions>`.
pub fn session_state(name: &str, enabled: bool) -> String {
    format!(
        "<sessions><session>{}{}</session></sessions>",
        el("name", name),
        el("enabled", bool_str(enabled))
    )
}

pub fn version() -> String {
    let v = env!("CARGO_PKG_VERSION");
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    format!(
        "<version>{}{}{}<commit></commit>{}{}{}{}{}</version>",
        el("string", v),
        el("major", &major.to_string()),
        el("minor", &minor.to_string()),
        el("patchLevel", &patch.to_string()),
        el("name", "rttng"),
        el(
            "description",
            "LTTng-compatible tracing in Rust; traces are CTF 1.8, laid out like LTTng's, and read by babeltrace2."
        ),
        el("url", "https://github.com/rttng/rttng"),
        el("license", "MIT OR Apache-2.0"),
    )
}

/// One event rule of `enable-event`'s answer (lttng's order: the log level after
/// `enabled`).
pub fn enabled_event(
    name: &str,
    syscall: bool,
    loglevel: LoglevelRule,
    exclusions: &[String],
    success: bool,
) -> String {
    format!(
        "<event>{}{}{}{}{}{}</event>",
        el("name", name),
        el("type", if syscall { "SYSCALL" } else { "TRACEPOINT" }),
        el("enabled", bool_str(success)),
        loglevel_els(loglevel, true),
        exclusions_el(exclusions),
        el("success", bool_str(success)),
    )
}

/// `<loglevel_type>` and `<loglevel>` of a rule (nothing for every level); `level_first`:
/// lttng's enable-event order.
fn loglevel_els(l: LoglevelRule, level_first: bool) -> String {
    let (kind, level) = match l {
        LoglevelRule::All => return String::new(),
        LoglevelRule::AtLeast { level } => ("RANGE", level),
        LoglevelRule::Exactly { level } => ("SINGLE", level),
    };
    let (k, v) = (
        el("loglevel_type", kind),
        el("loglevel", &crate::list::level_name(level)),
    );
    if level_first {
        format!("{v}{k}")
    } else {
        format!("{k}{v}")
    }
}

fn exclusions_el(x: &[String]) -> String {
    if x.is_empty() {
        return "<exclusions/>".to_string();
    }
    let inner: String = x.iter().map(|e| el("exclusion", e)).collect();
    format!("<exclusions>{inner}</exclusions>")
}

fn domain_name(d: Domain) -> &'static str {
    match d {
        Domain::Kernel => "KERNEL",
        _ => "UST",
    }
}

fn attr_tag(a: ProcessAttr) -> &'static str {
    match a {
        ProcessAttr::Pid => "pid",
        ProcessAttr::Vpid => "vpid",
        ProcessAttr::Uid => "uid",
        ProcessAttr::Vuid => "vuid",
        ProcessAttr::Gid => "gid",
        ProcessAttr::Vgid => "vgid",
    }
}

/// The trackers of a domain that do not track everything (as lttng lists them).
fn trackers_el(domain: Domain, trackers: &[TrackerInfo]) -> String {
    let inner: String = trackers
        .iter()
        .filter(|t| t.domain == domain && !t.all)
        .map(|t| {
            let tag = attr_tag(t.attr);
            let values: String = t
                .values
                .iter()
                .map(|v| format!("<{tag}><type><id>{v}</id></type></{tag}>"))
                .collect();
            let values = if values.is_empty() {
                "<process_attr_values/>".to_string()
            } else {
                format!("<process_attr_values>{values}</process_attr_values>")
            };
            format!("<{tag}_process_attr_tracker>{values}</{tag}_process_attr_tracker>")
        })
        .collect();
    if inner.is_empty() {
        String::new()
    } else {
        format!("<process_attr_trackers>{inner}</process_attr_trackers>")
    }
}

/// A channel's `<attributes>` (lttng's order).
fn attributes_el(c: &ChannelInfo) -> String {
    let a = &c.attrs;
    format!(
        "<attributes>{}{}{}{}{}{}{}{}{}{}{}{}{}</attributes>",
        el(
            "overwrite_mode",
            if a.overwrite { "OVERWRITE" } else { "DISCARD" }
        ),
        el("subbuffer_size", &a.subbuf_size.to_string()),
        el("subbuffer_count", &a.num_subbuf.to_string()),
        el("switch_timer_interval", &a.switch_timer_us.to_string()),
        el("read_timer_interval", &a.read_timer_us.to_string()),
        // No monitor timer runs in rttng; the tracer never blocks.
        el("monitor_timer_interval", "0"),
        el("blocking_timeout", "0"),
        el("output_type", "MMAP"),
        el("tracefile_size", &a.tracefile_size.to_string()),
        el("tracefile_count", &a.tracefile_count.to_string()),
        el("live_timer_interval", "0"),
        el("discarded_events", &c.discarded_events.to_string()),
        el("lost_packets", &c.lost_packets.to_string()),
    )
}

fn channel_el(c: &ChannelInfo, filters: &[RuleFilter]) -> String {
    let attrs = attributes_el(c);
    let events: String = c
        .rules
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let level = loglevel_els(r.rule.loglevel, true);
            let filter = filters
                .iter()
                .find(|f| f.domain == c.domain && f.channel == c.name && f.rule_index as usize == k)
                .map(|f| el("filter_expression", &f.filter))
                .unwrap_or_default();
            format!(
                "<event>{}{}{}{level}{filter}{}</event>",
                el("name", &r.rule.pattern),
                el(
                    "type",
                    if r.rule.syscall {
                        "SYSCALL"
                    } else {
                        "TRACEPOINT"
                    }
                ),
                el("enabled", bool_str(r.enabled)),
                exclusions_el(&r.rule.exclusions),
            )
        })
        .collect();
    let events = if events.is_empty() {
        "<events/>".to_string()
    } else {
        format!("<events>{events}</events>")
    };
    format!(
        "<channel>{}{}{attrs}{events}</channel>",
        el("name", &c.name),
        el("enabled", bool_str(c.enabled))
    )
}

/// `list SESSION`: the session with its domains, trackers, channels and rules.
pub fn session_detail(
    d: &SessionDetail,
    filters: &[RuleFilter],
    trackers: &[TrackerInfo],
) -> String {
    let mut domains = String::new();
    for domain in [Domain::Kernel, Domain::Ust] {
        let chans: Vec<&ChannelInfo> = d.channels.iter().filter(|c| c.domain == domain).collect();
        if chans.is_empty() && !trackers.iter().any(|t| t.domain == domain) {
            continue;
        }
        let buffers = match (domain, chans.first().map(|c| c.attrs.buffers)) {
            (Domain::Kernel, _) => "GLOBAL",
            (_, Some(Buffers::PerPid)) => "PER_PID",
            _ => "PER_UID",
        };
        let channels: String = chans.iter().map(|c| channel_el(c, filters)).collect();
        let channels = if channels.is_empty() {
            String::new()
        } else {
            format!("<channels>{channels}</channels>")
        };
        domains += &format!(
            "<domain>{}{}{}{channels}</domain>",
            el("type", domain_name(domain)),
            el("buffer_type", buffers),
            trackers_el(domain, trackers),
        );
    }
    let domains = if domains.is_empty() {
        "<domains/>".to_string()
    } else {
        format!("<domains>{domains}</domains>")
    };
    format!(
        "<sessions><session>{}{domains}</session></sessions>",
        session_fields(&d.name, &d.output, d.active, d.snapshot)
    )
}

/// `enable-channel`: each channel as it now is, with the command's success for it.
pub fn channels_enabled(chans: &[(String, Option<ChannelInfo>)], ok: bool) -> String {
    let inner: String = chans
        .iter()
        .map(|(name, c)| match c {
            Some(c) => format!(
                "<channel>{}{}{}{}</channel>",
                el("name", name),
                el("enabled", bool_str(c.enabled)),
                attributes_el(c),
                el("success", bool_str(ok)),
            ),
            None => format!(
                "<channel>{}{}</channel>",
                el("name", name),
                el("success", "false")
            ),
        })
        .collect();
    wrap("channels", &inner)
}

/// `disable-channel`: the channels named, disabled if the command succeeded.
pub fn channels_disabled(names: &[String], ok: bool) -> String {
    let inner: String = names
        .iter()
        .map(|n| {
            format!(
                "<channel>{}{}{}</channel>",
                el("name", n),
                el("enabled", bool_str(!ok)),
                el("success", bool_str(ok))
            )
        })
        .collect();
    wrap("channels", &inner)
}

/// `disable-event`: `<channel><name/><events>…</events></channel>`.
pub fn events_disabled(channel: &str, names: &[String], ok: bool) -> String {
    let inner: String = names
        .iter()
        .map(|n| {
            format!(
                "<event>{}{}{}</event>",
                el("name", n),
                el("enabled", bool_str(!ok)),
                el("success", bool_str(ok))
            )
        })
        .collect();
    format!(
        "<channel>{}{}</channel>",
        el("name", channel),
        wrap("events", &inner)
    )
}

/// `add-context`: each context type (lttng's upper-case type and its symbol). lttng 2.13
/// also writes a `<success>` per context, which its own schema refuses; rttng's document
/// stays valid (the command's `<success>` says it). `cpu_id`, rttng's own, has no schema
/// type and is left out.
pub fn contexts_added(names: &[String]) -> String {
    let inner: String = names
        .iter()
        .filter(|n| n.as_str() != "cpu_id")
        .map(|n| {
            format!(
                "<context>{}{}</context>",
                el("type", &n.to_ascii_uppercase().replace('-', "_")),
                el("symbol", n),
            )
        })
        .collect();
    wrap("contexts", &inner)
}

/// What `track`/`untrack` did to one attribute: each value (`None`: `--all`) and whether
/// it succeeded.
pub type TrackerChange = (ProcessAttr, Vec<(Option<u32>, bool)>);

/// `track`/`untrack`: per attribute, each value with its success.
pub fn trackers_changed(changes: &[TrackerChange]) -> String {
    let inner: String = changes
        .iter()
        .map(|(attr, values)| {
            let tag = attr_tag(*attr);
            let vals: String = values
                .iter()
                .map(|(v, ok)| {
                    let t = match v {
                        Some(v) => format!("<id>{v}</id>"),
                        None => "<all>true</all>".to_string(),
                    };
                    format!(
                        "<{tag}><type>{t}</type>{}</{tag}>",
                        el("success", bool_str(*ok))
                    )
                })
                .collect();
            format!(
                "<{tag}_process_attr_tracker>{}</{tag}_process_attr_tracker>",
                wrap("process_attr_values", &vals)
            )
        })
        .collect();
    wrap("process_attr_trackers", &inner)
}

/// `set-session`: `<sessions><session><name/></session></sessions>`.
pub fn session_name(name: &str) -> String {
    format!(
        "<sessions><session>{}</session></sessions>",
        el("name", name)
    )
}

/// `<tag>inner</tag>`, or `<tag/>` when empty.
fn wrap(tag: &str, inner: &str) -> String {
    if inner.is_empty() {
        format!("<{tag}/>")
    } else {
        format!("<{tag}>{inner}</{tag}>")
    }
}

/// `list -u [-f]`: the registered applications and their events (lttng writes the domain's
/// buffer type as `PER_PID` here).
pub fn apps(list: &[rttng_ctl::proto::AppInfo], fields: bool) -> String {
    let pids: String = list
        .iter()
        .map(|a| {
            let events: String = a
                .events
                .iter()
                .map(|e| {
                    let event_fields = if fields {
                        let inner: String = e
                            .fields
                            .iter()
                            .map(|(n, k)| {
                                let kind = match k.as_str() {
                                    "integer" => "INTEGER",
                                    "string" => "STRING",
                                    "float" => "FLOAT",
                                    "enum" => "ENUM",
                                    _ => "OTHER",
                                };
                                format!(
                                    "<event_field>{}{}{}</event_field>",
                                    el("name", n),
                                    el("type", kind),
                                    el("nowrite", "0")
                                )
                            })
                            .collect();
                        wrap("event_fields", &inner)
                    } else {
                        String::new()
                    };
                    format!(
                        "<event>{}{}{}{}{event_fields}</event>",
                        el("name", &e.name),
                        el("type", "TRACEPOINT"),
                        el("loglevel", &crate::list::level_name(e.loglevel)),
                        el("enabled", "false"),
                    )
                })
                .collect();
            format!(
                "<pid>{}{}{}</pid>",
                el("id", &a.pid.to_string()),
                el("name", &a.name),
                wrap("events", &events)
            )
        })
        .collect();
    format!(
        "<domains><domain>{}{}{}</domain></domains>",
        el("type", "UST"),
        el("buffer_type", "PER_PID"),
        wrap("pids", &pids)
    )
}
