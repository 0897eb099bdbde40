//! The live view of a session that drains its own buffers: an observer of each page's
//! records (`rttng trace`) or a handler per CPU that walks a page with no allocation
//! (`rttng top`), the drain's period, and live-only sessions. Not here: walking pages
//! (`crate::live`), draining (`drive.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use super::KernelSession;
use crate::live::{LiveFieldRef, LivePage, LiveRecord, LiveTable};

impl KernelSession {
    /// Calls `observer` from the drain threads with the records of enabled events of each
    /// page read while the session runs (one CPU's records in order), for a live view, and
    /// with no records at the end of each pass over a CPU: every record of that CPU written
    /// before the pass began has then been passed on. Set it after enabling the events and
    /// before `start`.
    pub fn set_live_observer(
        &mut self,
        observer: impl Fn(u32, &[LiveRecord<'_>]) + Send + Sync + 'static,
    ) {
        let observer = Arc::new(observer);
        let table = Arc::new(self.live_table());
        self.observer = Some(Arc::new(move |cpu| {
            let table = table.clone();
            let observer = observer.clone();
            Box::new(move |page: &[u8]| {
                let records = table.records(page);
                // No page at all: the end of a pass over `cpu` (no records either).
                if !records.is_empty() || page.is_empty() {
                    observer(cpu, &records);
                }
            })
        }));
    }

    fn live_table(&self) -> LiveTable {
        let mut formats = HashMap::new();
        for ch in &self.channels {
            for f in &ch.formats {
                formats.insert(f.id, f.clone());
            }
        }
        LiveTable::new(self.layout, &formats)
    }

    /// The enabled events as `(ftrace type id, tracefs name)`: what [`LiveRecord::type_id`]
    /// tells apart, for a page handler that maps ids to what it counts once.
    pub fn live_events(&self) -> Vec<(u16, String)> {
        let mut out: Vec<(u16, String)> = self
            .channels
            .iter()
            .flat_map(|ch| ch.formats.iter().map(|f| (f.id, f.name.clone())))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Where field `field` (tracefs's name) of the enabled event with type id `id` lies.
    pub fn live_field(&self, id: u16, field: &str) -> Option<LiveFieldRef> {
        let format = self
            .channels
            .iter()
            .flat_map(|ch| ch.formats.iter())
            .find(|f| f.id == id)?;
        LiveFieldRef::of(format, field)
    }

    /// Like [`Self::set_live_observer`], for handlers that look at every record: `make(cpu)`
    /// makes the handler of each CPU's drain thread (state per CPU needs no sharing), which is
    /// called with each page read; [`LivePage::for_each`] walks its records with no allocation.
    /// Set it after enabling the events and before `start`.
    pub fn set_live_page_handler<H>(&mut self, make: impl Fn(u32) -> H + Send + Sync + 'static)
    where
        H: FnMut(LivePage<'_>) + Send + 'static,
    {
        let table = Arc::new(self.live_table());
        self.observer = Some(Arc::new(move |cpu| {
            let table = table.clone();
            let mut handler = make(cpu);
            Box::new(move |page: &[u8]| handler(table.page(page)))
        }));
    }

    /// Longest time an observed buffer waits to be read when it is not `buffer_percent` full
    /// (default 3 ms, for lines that show up promptly): a counter
    /// that shows figures once a second reads less often, in bigger batches.
    pub fn set_live_period(&mut self, period: std::time::Duration) {
        self.live_period = period;
    }

    /// `false`: a live-only session. The pages go to the live observer only; nothing is kept
    /// on disk and `stop` writes no trace (its report counts nothing). Set before `start`,
    /// with an observer.
    pub fn set_write_trace(&mut self, on: bool) {
        self.write_trace = on;
    }
}
