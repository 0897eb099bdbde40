//! Bad metadata gives a `MetadataError` at the right line, never a panic.
