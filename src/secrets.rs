//! `NAME_FILE` → `NAME`, as the official images do. (Not written yet.)
