//! Lines from babeltrace2's recorded outputs (/work/shared/ctf-conformance/expected, spec §8/§9),
//! asserted against our printer on hand-built events.
