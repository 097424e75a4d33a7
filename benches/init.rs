//! Whole-process comparisons (not written yet).
fn main() {}
