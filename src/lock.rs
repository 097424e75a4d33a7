//! `--lock`: one replica at a time runs the hooks. (Not written yet.)
