//! The golden example of the spec (§9) parses into the expected model.
