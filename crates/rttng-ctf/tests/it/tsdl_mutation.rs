//! Mutated corpus metadata never makes the parser panic.
