//! What the host offers besides logging: dynamic partition keys and granted directories.
//!
//! Off wasm, both answer from what [`testing`](crate::testing) configured for the current
//! thread (wit-bindgen's native stubs of the imports would panic).

use std::path::PathBuf;

/// The current keys of a dynamic partitions set, in insertion order.
pub fn dynamic_partition_keys(name: &str) -> Vec<String> {
    #[cfg(target_family = "wasm")]
    {
        crate::bindings::tessera::plugin::host::dynamic_partition_keys(name)
    }
    #[cfg(not(target_family = "wasm"))]
    {
        native::DYNAMIC.with(|d| d.borrow().get(name).cloned().unwrap_or_default())
    }
}

/// Where a directory the host granted at guest path `guest_path` (say `/data/incoming`) is
/// read from. On wasm that is the guest path itself (a WASI preopen); off wasm, the host
/// directory given to the test harness with `.grant(guest_path, dir)`, or the path unchanged.
pub fn granted_path(guest_path: &str) -> PathBuf {
    #[cfg(not(target_family = "wasm"))]
    {
        let mapped = native::GRANTS.with(|g| {
            g.borrow().iter().find_map(|(guest, host)| {
                let guest = guest.trim_end_matches('/');
                let rest = guest_path.strip_prefix(guest)?;
                if rest.is_empty() {
                    Some(host.clone())
                } else {
                    rest.strip_prefix('/').map(|rest| host.join(rest))
                }
            })
        });
        if let Some(path) = mapped {
            return path;
        }
    }
    PathBuf::from(guest_path)
}

#[cfg(not(target_family = "wasm"))]
pub(crate) mod native {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::path::PathBuf;

    thread_local! {
        pub(crate) static DYNAMIC: RefCell<HashMap<String, Vec<String>>> = RefCell::new(HashMap::new());
        pub(crate) static GRANTS: RefCell<Vec<(String, PathBuf)>> = const { RefCell::new(Vec::new()) };
    }

    /// Installs the harness's host state for the current thread until dropped.
    #[derive(Debug)]
    pub(crate) struct HostState {
        dynamic: HashMap<String, Vec<String>>,
        grants: Vec<(String, PathBuf)>,
    }

    impl HostState {
        pub(crate) fn install(
            dynamic: HashMap<String, Vec<String>>,
            grants: Vec<(String, PathBuf)>,
        ) -> Self {
            let dynamic = DYNAMIC.with(|d| std::mem::replace(&mut *d.borrow_mut(), dynamic));
            let grants = GRANTS.with(|g| std::mem::replace(&mut *g.borrow_mut(), grants));
            HostState { dynamic, grants }
        }
    }

    impl Drop for HostState {
        fn drop(&mut self) {
            let dynamic = std::mem::take(&mut self.dynamic);
            let grants = std::mem::take(&mut self.grants);
            DYNAMIC.with(|d| *d.borrow_mut() = dynamic);
            GRANTS.with(|g| *g.borrow_mut() = grants);
        }
    }
}
