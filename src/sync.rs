//! Locking a `std::sync::Mutex` without crashing over a poisoned one.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`. A poisoned mutex only means another task panicked while holding it; what it
/// guards (a map, a list of lines, a plain value) is still usable, and baton must not crash
/// over it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
