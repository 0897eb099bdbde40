//! rttng-filter's integration tests: evaluation against an independent reference evaluator
//! over generated expressions and events (`reference`, `props`), hand-checked examples from
//! LTTng's observed behaviour (`examples`), error positions (`errors`) and the wire form
//! (`wire`).

mod dynamic;
mod errors;
mod examples;
mod lttng_peer;
mod props;
mod reference;
mod wire;

use rttng_filter::{Event, FieldType, Reference, Root, Schema, Value};

/// The test event class: `i`, `j` (integers), `f` (float), `s`, `t` (strings), and the
/// contexts `$ctx.vpid` (integer), `$ctx.procname` (string), `$app.prov:num` (integer),
/// and `$app.p:d`, a dynamic value (typed per event: [`Dyn`]).
pub struct TestSchema;

/// The value of the dynamic context `$app.p:d` on one event (`None`: the provider gave
/// none).
#[derive(Debug, Clone, PartialEq)]
pub enum Dyn {
    None,
    I(i64),
    F(f64),
    S(Vec<u8>),
}

impl Dyn {
    pub fn value(&self) -> Value<'_> {
        match self {
            Dyn::None => Value::Absent,
            Dyn::I(v) => Value::Int(*v),
            Dyn::F(v) => Value::Float(*v),
            Dyn::S(v) => Value::Str(v),
        }
    }
}

pub const FIELDS: [(&str, FieldType); 5] = [
    ("i", FieldType::Int),
    ("j", FieldType::Int),
    ("f", FieldType::Float),
    ("s", FieldType::Str),
    ("t", FieldType::Str),
];

impl Schema for TestSchema {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        let name = r.simple_name()?;
        match r.root {
            Root::Payload => FIELDS
                .iter()
                .position(|(n, _)| *n == name)
                .map(|p| (p as u16, FIELDS[p].1)),
            Root::Context if name == "vpid" => Some((5, FieldType::Int)),
            Root::Context if name == "procname" => Some((6, FieldType::Str)),
            Root::App if name == "prov:num" => Some((7, FieldType::Int)),
            Root::App if name == "p:d" => Some((8, FieldType::Dynamic)),
            _ => None,
        }
    }
}

/// One event's values for [`TestSchema`].
#[derive(Debug, Clone, PartialEq)]
pub struct TestEvent {
    pub i: i64,
    pub j: i64,
    pub f: f64,
    pub s: Vec<u8>,
    pub t: Vec<u8>,
    pub vpid: i64,
    pub procname: Vec<u8>,
    pub app: i64,
    pub d: Dyn,
}

impl Event for TestEvent {
    fn value(&self, slot: u16) -> Value<'_> {
        match slot {
            0 => Value::Int(self.i),
            1 => Value::Int(self.j),
            2 => Value::Float(self.f),
            3 => Value::Str(&self.s),
            4 => Value::Str(&self.t),
            5 => Value::Int(self.vpid),
            6 => Value::Str(&self.procname),
            7 => Value::Int(self.app),
            8 => self.d.value(),
            _ => Value::Absent,
        }
    }
}

/// Whether `expr` keeps `ev` (compile errors panic with the message).
pub fn keeps(expr: &str, ev: &TestEvent) -> bool {
    let p = rttng_filter::compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    p.bind(&TestSchema).matches(ev)
}

pub fn event(i: i64) -> TestEvent {
    TestEvent {
        i,
        j: 0,
        f: 0.0,
        s: b"hello".to_vec(),
        t: b"".to_vec(),
        vpid: 1234,
        procname: b"myapp".to_vec(),
        app: 17,
        d: Dyn::I(5),
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = std::env::var_os("TMPDIR").map_or_else(std::env::temp_dir, Into::into);
        let p = base.join(format!(
            "rttng-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("RTTNG_KEEP_TEMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
