//! The hooks phase: `--hooks-dir` executables in name order, then `--hook`s.
//! (Not written yet.)
