//! The terminal UI of `rttng top` (ratatui over crossterm): a status line, the task table, and
//! the system-call and user-space event tables side by side.
//!
//! Keys: `q`/Esc quit; `p`/space pause (the tables freeze, counting goes on); `s`/→ and ←
//! change the sort column, `1`–`7` pick it; `/` types a task filter (Enter applies, Esc
//! cancels), `c` clears it. It only draws [`Snapshot`]s; the figures are `agg`'s.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use crate::agg::{self, filter_tasks, human, sort_tasks, Aggregator, Snapshot, SortKey};
use crate::Sources;

/// How often keys are looked at between refreshes.
const KEY_POLL: Duration = Duration::from_millis(50);

struct View {
    snap: Snapshot,
    sort: SortKey,
    filter: String,
    /// The filter being typed, while `/` is active.
    typing: Option<String>,
    paused: bool,
    delay: Duration,
    status: Option<String>,
}

pub(crate) fn run(
    mut sources: Sources,
    mut agg: Aggregator,
    delay: Duration,
    sort: SortKey,
    filter: String,
) -> Result<()> {
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let mut view = View {
        snap: Snapshot::default(),
        sort,
        filter,
        typing: None,
        paused: false,
        delay,
        status: None,
    };
    let mut last = Instant::now();
    let result = (|| -> Result<()> {
        // Drawn when something changed (a refresh, a key, a resize), not at every key poll.
        let mut dirty = true;
        loop {
            if std::mem::take(&mut dirty) {
                terminal
                    .draw(|f| draw(f, &view))
                    .context("drawing the terminal")?;
            }
            let deadline = Instant::now() + KEY_POLL;
            sources.pump_until(&mut agg, deadline);
            if sources.stopping() {
                return Ok(());
            }
            if last.elapsed() >= delay {
                let now = Instant::now();
                let snap = sources.snapshot(&mut agg, now.duration_since(last).as_secs_f64());
                last = now;
                if !view.paused {
                    view.snap = snap;
                }
                view.status = sources.user_status.clone();
                dirty = true;
            }
            while event::poll(Duration::ZERO).context("reading keys")? {
                match event::read().context("reading keys")? {
                    Event::Key(k) => {
                        if k.kind != KeyEventKind::Press {
                            continue;
                        }
                        if !key(&mut view, k.code) {
                            return Ok(());
                        }
                        dirty = true;
                    }
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
        }
    })();
    // Not `ratatui::restore`: it prints its failure to standard error, which panics when the
    // terminal is gone (SIGHUP), and the panic would skip the kernel session's cleanup.
    let _ = ratatui::try_restore();
    let finished = sources.finish(&mut agg);
    result?;
    finished.map(|_| ())
}

/// Applies a key; false to quit.
fn key(v: &mut View, code: KeyCode) -> bool {
    if let Some(t) = &mut v.typing {
        match code {
            KeyCode::Enter => v.filter = v.typing.take().unwrap_or_default(),
            KeyCode::Esc => v.typing = None,
            KeyCode::Backspace => {
                t.pop();
            }
            KeyCode::Char(c) if t.len() < agg::MAX_NAME_BYTES => t.push(c),
            _ => {}
        }
        return true;
    }
    let pos = SortKey::ALL.iter().position(|k| *k == v.sort).unwrap_or(0);
    let n = SortKey::ALL.len();
    match code {
        KeyCode::Char('q') | KeyCode::Esc => return false,
        KeyCode::Char('p') | KeyCode::Char(' ') => v.paused = !v.paused,
        KeyCode::Char('s') | KeyCode::Right => v.sort = SortKey::ALL[(pos + 1) % n],
        KeyCode::Left => v.sort = SortKey::ALL[(pos + n - 1) % n],
        KeyCode::Char(c @ '1'..='7') => v.sort = SortKey::ALL[(c as usize) - ('1' as usize)],
        KeyCode::Char('/') => v.typing = Some(String::new()),
        KeyCode::Char('c') => v.filter.clear(),
        _ => {}
    }
    true
}

fn draw(f: &mut Frame<'_>, v: &View) {
    let [head, tasks, bottom] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Percentage(60),
        Constraint::Min(4),
    ])
    .areas(f.area());
    let filter = match &v.typing {
        Some(t) => format!("filter: {t}_"),
        None if v.filter.is_empty() => "filter: none (/)".to_string(),
        None => format!("filter: {} (/, c clears)", v.filter),
    };
    let mut l1 = format!(
        "rttng top - every {:.1} s - sort: {} (s, arrows, 1-7) - {filter}",
        v.delay.as_secs_f64(),
        v.sort.label()
    );
    if v.paused {
        l1.push_str(" - PAUSED (p)");
    }
    let l2 = match &v.status {
        Some(s) => format!("q quits - {s}"),
        None => "q quits - p pauses".to_string(),
    };
    f.render_widget(Paragraph::new(vec![Line::from(l1), Line::from(l2)]), head);

    let mut rows = v.snap.tasks.clone();
    sort_tasks(&mut rows, v.sort);
    let shown = filter_tasks(&rows, &v.filter);
    let titles = [
        SortKey::Tid,
        SortKey::Name,
        SortKey::Cpu,
        SortKey::Syscalls,
        SortKey::Read,
        SortKey::Write,
        SortKey::Net,
    ];
    let mut header: Vec<String> = titles
        .iter()
        .map(|k| {
            if *k == v.sort {
                format!("{}*", k.label())
            } else {
                k.label().to_string()
            }
        })
        .collect();
    header.push("CPU s".into());
    let body: Vec<Row<'_>> = shown
        .iter()
        .map(|r| {
            Row::new(vec![
                r.tid.to_string(),
                r.name.clone(),
                format!("{:.1}", r.cpu_percent),
                format!("{:.0}", r.syscalls_per_s),
                human(r.read_bytes_per_s),
                human(r.write_bytes_per_s),
                human(r.net_bytes_per_s),
                format!("{:.2}", r.total_cpu_ns as f64 / 1e9),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(8),
        Constraint::Min(16),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(9),
    ];
    f.render_widget(
        Table::new(body, widths)
            .header(Row::new(header).style(Style::new().add_modifier(Modifier::REVERSED)))
            .block(Block::new().borders(Borders::TOP).title(" tasks ")),
        tasks,
    );

    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    let name_table = |title: &'static str, rows: &[agg::NameRow], name_w: u16| {
        let body: Vec<Row<'_>> = rows
            .iter()
            .filter(|r| r.count > 0)
            .map(|r| {
                Row::new(vec![
                    r.name.clone(),
                    r.count.to_string(),
                    format!("{:.1}", r.per_s),
                ])
            })
            .collect();
        Table::new(
            body,
            [
                Constraint::Min(name_w),
                Constraint::Length(10),
                Constraint::Length(10),
            ],
        )
        .header(
            Row::new(vec!["NAME", "COUNT", "PER SEC"])
                .style(Style::new().add_modifier(Modifier::REVERSED)),
        )
        .block(Block::new().borders(Borders::TOP).title(title))
    };
    f.render_widget(name_table(" system calls ", &v.snap.syscalls, 16), left);
    f.render_widget(name_table(" user-space events ", &v.snap.user, 24), right);
}
