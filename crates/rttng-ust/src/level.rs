//! LTTng-UST's 15 log levels as the `tracepoint!` macro names them; their numbers are what the
//! metadata's `loglevel = N;` carries, and their names are `rttng_desc::LOGLEVEL_NAMES`
//! (checked by a test).
//! Not here: level filtering (the session daemon's enablement rules do that).

/// Log level of an event (LTTng-UST numbering: 0 is the most severe).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum LogLevel {
    EMERG = 0,
    ALERT = 1,
    CRIT = 2,
    ERR = 3,
    WARNING = 4,
    NOTICE = 5,
    INFO = 6,
    DEBUG_SYSTEM = 7,
    DEBUG_PROGRAM = 8,
    DEBUG_PROCESS = 9,
    DEBUG_MODULE = 10,
    DEBUG_UNIT = 11,
    DEBUG_FUNCTION = 12,
    /// LTTng's default when an event declares none.
    DEBUG_LINE = 13,
    DEBUG = 14,
}

impl LogLevel {
    /// The level with this number.
    pub fn from_i32(v: i32) -> Option<LogLevel> {
        use LogLevel::*;
        const ALL: [LogLevel; 15] = [
            EMERG,
            ALERT,
            CRIT,
            ERR,
            WARNING,
            NOTICE,
            INFO,
            DEBUG_SYSTEM,
            DEBUG_PROGRAM,
            DEBUG_PROCESS,
            DEBUG_MODULE,
            DEBUG_UNIT,
            DEBUG_FUNCTION,
            DEBUG_LINE,
            DEBUG,
        ];
        usize::try_from(v).ok().and_then(|i| ALL.get(i).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_lttng() {
        assert_eq!(LogLevel::EMERG as i32, 0);
        assert_eq!(LogLevel::INFO as i32, 6);
        assert_eq!(LogLevel::DEBUG_LINE as i32, 13);
        assert_eq!(LogLevel::from_i32(14), Some(LogLevel::DEBUG));
        assert_eq!(LogLevel::from_i32(15), None);
        assert_eq!(LogLevel::from_i32(-1), None);
    }

    #[test]
    fn variant_names_are_lttngs_names() {
        for (i, name) in rttng_desc::LOGLEVEL_NAMES.iter().enumerate() {
            let level = LogLevel::from_i32(i as i32).expect("every named level exists");
            assert_eq!(format!("{level:?}"), *name);
            assert_eq!(level as i32, i as i32);
        }
    }
}
