//! The agents' domains (`enable-event -j/-l/-p`): a session's logger rules, and the
//! user-space rule each one implies, as LTTng 2.13 does it. An agent rule (logger name or
//! glob, the agent's own log level) becomes (1) an ENABLE the daemon sends to every live
//! agent of the domain ([`Registry::agent_wants`]; the agents do not look at levels, and
//! the Python agent not even at names) and (2) an internal user-space rule on the agent's
//! tracepoint (`lttng_python:event`, ...) in the channel `lttng_python_channel`, ...,
//! whose filter is lttng-ctl's `set_agent_filter`: `logger_name == "NAME"` (none for `*`),
//! then `&& int_loglevel >= N` (or `== N`), the user's `--filter` first. So a logger that
//! no rule enables records nothing, whatever the agent emits. A new JUL/log4j rule whose
//! filter reads `$app.PROVIDER:NAME` also has the agents provide that context
//! (lttng-sessiond 2.13's `add_filter_app_ctx`, `event.c`: the Java agents send only
//! enabled contexts with each record, and lttng-ust evaluates the filter with them).
//!
//! Internal rules are hidden from `list` (as LTTng's `internal` events). Not here: the TCP
//! protocol and the agents themselves (rttng-sessiond's `agent`), log level names (the CLI).

use crate::attrs::{MAX_CHANNEL_CONTEXTS, MAX_RULES};
use crate::requests::compile_filter;
use crate::{err, Port, Registry, StoredFilter};
use rttng_proto::*;

/// A session's agent rule.
#[derive(Debug, Clone)]
pub(crate) struct AgentRule {
    pub domain: Domain,
    /// `loglevel` holds the agent's value (higher is more severe).
    pub rule: EventRule,
    pub enabled: bool,
    /// The user's `--filter`, part of the rule's identity.
    pub user_filter: Option<String>,
    /// The filter of the internal user-space rule (lttng's `set_agent_filter`).
    pub filter: Option<StoredFilter>,
}

/// One ENABLE an agent of `domain` should have received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEnable {
    pub domain: Domain,
    pub name: String,
    pub loglevel: LoglevelRule,
    pub filter: Option<String>,
}

/// An application context the agents of `domain` should provide (`APP_CTX_ENABLE`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentAppContext {
    pub domain: Domain,
    pub provider: String,
    pub name: String,
}

/// `PROVIDER:NAME` of an application context, checked: both parts 1 to
/// [`MAX_APP_CONTEXT_BYTES`] in all, without quotes, backslashes, `:` in the provider, or
/// control characters.
pub(crate) fn split_app_context(full: &str) -> Option<(&str, &str)> {
    let (p, n) = full.split_once(':')?;
    let ok = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() || c == '"' || c == '\\');
    (full.len() <= MAX_APP_CONTEXT_BYTES && ok(p) && ok(n)).then_some((p, n))
}

/// Most application contexts one session's agent filters may ask the agents for.
pub const MAX_FILTER_APP_CONTEXTS: usize = 256;

/// The `$app.PROVIDER:NAME` contexts a user filter reads (lttng-sessiond's
/// `add_filter_app_ctx` over the bytecode's symbols), each once.
fn filter_app_contexts(user_filter: Option<&str>) -> Vec<(String, String)> {
    let Some(Ok(p)) = user_filter.map(rttng_filter::compile) else {
        return Vec::new();
    };
    let mut v: Vec<(String, String)> = Vec::new();
    for r in p.references() {
        if r.root != rttng_filter::Root::App {
            continue;
        }
        let Some((provider, name)) = r.simple_name().and_then(split_app_context) else {
            continue;
        };
        let c = (provider.to_string(), name.to_string());
        if !v.contains(&c) {
            v.push(c);
        }
    }
    v
}

/// The agent's tracepoint and its channel.
pub fn ust_names(domain: Domain) -> Option<(&'static str, &'static str)> {
    match domain {
        Domain::Jul => Some(("lttng_jul:event", "lttng_jul_channel")),
        Domain::Log4j => Some(("lttng_log4j:event", "lttng_log4j_channel")),
        Domain::Python => Some(("lttng_python:event", "lttng_python_channel")),
        _ => None,
    }
}

/// Whether a user-space rule is the internal rule of some agent rule (hidden from lists).
pub(crate) fn is_internal(channel: &str, pattern: &str) -> bool {
    [Domain::Jul, Domain::Log4j, Domain::Python]
        .into_iter()
        .filter_map(ust_names)
        .any(|(ev, ch)| ev == pattern && ch == channel)
}

/// lttng-ctl's `set_agent_filter`: the filter text of an agent rule's user-space rule.
pub fn agent_filter(name: &str, loglevel: LoglevelRule, user: Option<&str>) -> Option<String> {
    let mut f = if name != "*" {
        Some(match user {
            Some(u) => format!("({u}) && (logger_name == \"{name}\")"),
            None => format!("logger_name == \"{name}\""),
        })
    } else {
        None
    };
    let level = match loglevel {
        LoglevelRule::All => None,
        LoglevelRule::AtLeast { level } => Some((">=", level)),
        LoglevelRule::Exactly { level } => Some(("==", level)),
    };
    if let Some((op, n)) = level {
        f = Some(match f.as_deref().or(user) {
            Some(prev) => format!("({prev}) && (int_loglevel {op} {n})"),
            None => format!("int_loglevel {op} {n}"),
        });
    }
    f.or_else(|| user.map(str::to_string))
}

/// Characters a logger name may not hold: it is quoted into a filter string literal.
fn name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= crate::attrs::MAX_NAME_BYTES
        && !n.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

impl Registry {
    /// `enable-event -j/-l/-p`. `i`: the session's index, its owner checked.
    pub(crate) fn enable_agent_event(
        &mut self,
        i: usize,
        domain: Domain,
        rule: EventRule,
        user_filter: Option<String>,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        if !name_ok(&rule.pattern) {
            return Err(err(
                ErrorCode::InvalidArgument,
                "logger name must be 1 to 255 bytes, without quotes, backslashes or control characters",
            ));
        }
        if !rule.exclusions.is_empty() || rule.syscall {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!(
                    "Event name exclusions are not yet implemented for {} events",
                    domain.name()
                ),
            ));
        }
        let Some((ust_event, ust_channel)) = ust_names(domain) else {
            return Err(err(ErrorCode::InvalidArgument, "not an agent domain"));
        };
        let text = agent_filter(&rule.pattern, rule.loglevel, user_filter.as_deref());
        let stored = match text {
            Some(t) => Some(compile_filter(t, &rule)?),
            None => None,
        };
        if self.sessions[i].agent_rules.len() >= MAX_RULES {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("the session has {MAX_RULES} agent rules already"),
            ));
        }
        let filter_contexts: Vec<(Domain, String, String)> =
            if matches!(domain, Domain::Jul | Domain::Log4j) {
                filter_app_contexts(user_filter.as_deref())
                    .into_iter()
                    .map(|(p, n)| (domain, p, n))
                    .filter(|c| !self.sessions[i].agent_app_contexts.contains(c))
                    .collect()
            } else {
                Vec::new()
            };
        if self.sessions[i].agent_app_contexts.len() + filter_contexts.len()
            > MAX_FILTER_APP_CONTEXTS + MAX_CHANNEL_CONTEXTS
        {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("the session's agent filters read more than {MAX_FILTER_APP_CONTEXTS} application contexts"),
            ));
        }
        // The user-space side: the agent channel (created with default attributes),
        // then the internal rule.
        let c = match self.sessions[i]
            .channels
            .iter()
            .position(|c| c.domain == Domain::Ust && c.name == ust_channel)
        {
            Some(c) => c,
            None => {
                self.enable_channel(i, Domain::Ust, ust_channel, &ChannelAttrs::default(), port)?;
                self.sessions[i].channels.len() - 1
            }
        };
        let ust_rule = EventRule {
            pattern: ust_event.to_string(),
            loglevel: LoglevelRule::All,
            exclusions: Vec::new(),
            syscall: false,
        };
        let ch = &mut self.sessions[i].channels[c];
        let ftext = |f: &Option<StoredFilter>| f.as_ref().map(|f| f.text.clone());
        match (0..ch.rules.len())
            .find(|&k| ch.rules[k].rule == ust_rule && ftext(&ch.filters[k]) == ftext(&stored))
        {
            Some(k) => ch.rules[k].enabled = true,
            None => {
                if ch.rules.len() >= MAX_RULES {
                    return Err(err(
                        ErrorCode::InvalidArgument,
                        format!("channel {ust_channel} has {MAX_RULES} rules already"),
                    ));
                }
                ch.rules.push(RuleInfo {
                    rule: ust_rule,
                    enabled: true,
                });
                ch.filters.push(stored.clone());
            }
        }
        let s = &mut self.sessions[i];
        match s
            .agent_rules
            .iter_mut()
            .find(|a| a.domain == domain && a.rule == rule && a.user_filter == user_filter)
        {
            Some(a) => a.enabled = true,
            None => {
                s.agent_rules.push(AgentRule {
                    domain,
                    rule,
                    enabled: true,
                    user_filter,
                    filter: stored,
                });
                s.agent_app_contexts.extend(filter_contexts);
            }
        }
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    /// `disable-event -j/-l/-p NAME` (`*`: every rule of the domain): the agent rules and
    /// their internal user-space rules.
    pub(crate) fn disable_agent_event(
        &mut self,
        i: usize,
        domain: Domain,
        pattern: &str,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        let Some((ust_event, ust_channel)) = ust_names(domain) else {
            return Err(err(ErrorCode::InvalidArgument, "not an agent domain"));
        };
        let s = &mut self.sessions[i];
        let mut filters = Vec::new();
        for a in s
            .agent_rules
            .iter_mut()
            .filter(|a| a.domain == domain && (pattern == "*" || a.rule.pattern == pattern))
        {
            a.enabled = false;
            filters.push(a.filter.as_ref().map(|f| f.text.clone()));
        }
        if filters.is_empty() {
            return Err(err(
                ErrorCode::NoEvent,
                format!("Event {pattern}: not found"),
            ));
        }
        // An internal rule stays on while another enabled agent rule uses the same filter.
        let still: Vec<Option<String>> = s
            .agent_rules
            .iter()
            .filter(|a| a.domain == domain && a.enabled)
            .map(|a| a.filter.as_ref().map(|f| f.text.clone()))
            .collect();
        if let Some(ch) = s
            .channels
            .iter_mut()
            .find(|c| c.domain == Domain::Ust && c.name == ust_channel)
        {
            for (r, f) in ch.rules.iter_mut().zip(&ch.filters) {
                let t = f.as_ref().map(|f| f.text.clone());
                if r.rule.pattern == ust_event && filters.contains(&t) && !still.contains(&t) {
                    r.enabled = false;
                }
            }
        }
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    /// `add-context -u/-j/-l -t '$app.PROVIDER:NAME'` (`name` without `$app.`): the
    /// context goes to the session's user-space channels (`channel`, else every one; for
    /// `-j`/`-l` only the agent's channel may be named, as lttng checks), created as lttng
    /// does when there is none; for `-j`/`-l` the domain's agents are asked to provide it.
    pub(crate) fn add_app_context(
        &mut self,
        session: &str,
        uid: u32,
        domain: Domain,
        channel: Option<String>,
        name: &str,
        port: &mut dyn Port,
    ) -> Result<Response, Response> {
        let Some((provider, ctx)) = split_app_context(name) else {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("invalid application context name \"$app.{name}\": expected $app.PROVIDER:NAME, at most {MAX_APP_CONTEXT_BYTES} bytes"),
            ));
        };
        let default_channel = match domain {
            Domain::Ust => crate::DEFAULT_CHANNEL,
            Domain::Jul | Domain::Log4j => ust_names(domain).map_or("", |n| n.1),
            _ => {
                return Err(err(
                    ErrorCode::InvalidArgument,
                    format!(
                        "application contexts exist in the user-space, JUL and log4j domains, not in the {} domain",
                        domain.name()
                    ),
                ))
            }
        };
        if domain != Domain::Ust && channel.as_deref().is_some_and(|c| c != default_channel) {
            return Err(err(
                ErrorCode::NoChannel,
                format!("channel {} not found", channel.unwrap_or_default()),
            ));
        }
        let i = self.session_index(session, uid)?;
        if self.sessions[i].started_once {
            return Err(err(ErrorCode::SessionActive, format!("session {} was already started; contexts can only be added before the first start", self.sessions[i].name)));
        }
        if self.sessions[i]
            .channels
            .iter()
            .all(|c| c.domain != Domain::Ust)
        {
            self.enable_channel(
                i,
                Domain::Ust,
                default_channel,
                &ChannelAttrs::default(),
                port,
            )?;
        }
        let s = &mut self.sessions[i];
        let mut any = false;
        for c in s
            .channels
            .iter_mut()
            .filter(|c| c.domain == Domain::Ust && channel.as_ref().is_none_or(|n| *n == c.name))
        {
            if !c.app_contexts.iter().any(|a| a.name == name) {
                let position = c.contexts.len() + c.app_contexts.len();
                if position >= MAX_CHANNEL_CONTEXTS {
                    return Err(err(
                        ErrorCode::InvalidArgument,
                        format!(
                            "channel {} has {MAX_CHANNEL_CONTEXTS} contexts already",
                            c.name
                        ),
                    ));
                }
                c.app_contexts.push(AppContextAt {
                    position: position as u32,
                    name: name.to_string(),
                });
            }
            any = true;
        }
        if !any {
            return Err(err(
                ErrorCode::NoChannel,
                format!("channel {} not found", channel.unwrap_or_default()),
            ));
        }
        let want = (domain, provider.to_string(), ctx.to_string());
        if domain != Domain::Ust && !s.agent_app_contexts.contains(&want) {
            s.agent_app_contexts.push(want);
        }
        Ok(Response::Ok)
    }

    /// Every application context the live agents should provide, once per (domain,
    /// provider, name), whatever the number of sessions asking.
    pub fn agent_app_contexts(&self) -> Vec<AgentAppContext> {
        let mut v: Vec<AgentAppContext> = self
            .sessions
            .iter()
            .flat_map(|s| s.agent_app_contexts.iter())
            .map(|(domain, provider, name)| AgentAppContext {
                domain: *domain,
                provider: provider.clone(),
                name: name.clone(),
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// A session's agent rules, for `list SESSION`.
    pub(crate) fn agent_rules_of(&self, i: usize) -> Vec<AgentRuleInfo> {
        self.sessions[i]
            .agent_rules
            .iter()
            .map(|a| AgentRuleInfo {
                domain: a.domain,
                rule: a.rule.clone(),
                enabled: a.enabled,
                filter: a
                    .filter
                    .as_ref()
                    .map(|f| f.text.clone())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Every ENABLE the live agents should hold: one per enabled agent rule of every
    /// session (the agents count them: two sessions enabling one logger send it twice).
    pub fn agent_wants(&self) -> Vec<AgentEnable> {
        let mut v: Vec<AgentEnable> = self
            .sessions
            .iter()
            .flat_map(|s| s.agent_rules.iter())
            .filter(|a| a.enabled)
            .map(|a| AgentEnable {
                domain: a.domain,
                name: a.rule.pattern.clone(),
                loglevel: a.rule.loglevel,
                filter: a.filter.as_ref().map(|f| f.text.clone()),
            })
            .collect();
        v.sort_by(|a, b| (a.domain, &a.name).cmp(&(b.domain, &b.name)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_lttng_ctls() {
        // Texts as `lttng list` shows them for LTTng 2.13.9's rules.
        assert_eq!(
            agent_filter("enabled_logger", LoglevelRule::All, None).as_deref(),
            Some("logger_name == \"enabled_logger\"")
        );
        assert_eq!(
            agent_filter("en*", LoglevelRule::AtLeast { level: 30 }, None).as_deref(),
            Some("(logger_name == \"en*\") && (int_loglevel >= 30)")
        );
        assert_eq!(
            agent_filter("foo", LoglevelRule::Exactly { level: 800 }, None).as_deref(),
            Some("(logger_name == \"foo\") && (int_loglevel == 800)")
        );
        assert_eq!(agent_filter("*", LoglevelRule::All, None), None);
        assert_eq!(
            agent_filter("*", LoglevelRule::AtLeast { level: 20 }, Some("a == 1")).as_deref(),
            Some("(a == 1) && (int_loglevel >= 20)")
        );
        assert_eq!(
            agent_filter("x", LoglevelRule::All, Some("a == 1")).as_deref(),
            Some("(a == 1) && (logger_name == \"x\")")
        );
        assert_eq!(
            agent_filter("*", LoglevelRule::All, Some("a == 1")).as_deref(),
            Some("a == 1")
        );
    }
}
