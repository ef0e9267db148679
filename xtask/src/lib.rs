//! What `cargo xtask` does that the tests need too: building the plugins that are not Rust.

pub mod c;
