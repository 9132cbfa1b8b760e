//! The reporter lock: one tab (or worker) per origin sends reports, through the Web Locks API.
//! Every context asks for the same lock; the browser grants it to one at a time and passes it
//! on when that one closes. Where Web Locks are missing, each context reports on its own,
//! which the server's once-per-report-ID counting makes safe, only busier.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::platform::browser::property;

struct Held {
    /// False once the handle is dropped: a grant that comes later is given straight back.
    wanted: Cell<bool>,
    /// Resolving it ends the lock callback's promise, which releases the lock.
    release: RefCell<Option<Function>>,
}

/// Holds (or waits for) the lock until dropped.
#[must_use = "the lock is released as soon as the handle is dropped"]
pub struct LockHandle {
    held: Rc<Held>,
}

/// Asks for the lock `name`; `on_granted` runs once, when this context holds it.
pub fn hold(name: &str, on_granted: impl FnOnce() + 'static) -> LockHandle {
    let held = Rc::new(Held { wanted: Cell::new(true), release: RefCell::new(None) });
    let locks = property(&property(&js_sys::global(), "navigator"), "locks");
    match property(&locks, "request").dyn_into::<Function>() {
        Err(_) => on_granted(),
        Ok(request) => {
            let granted = held.clone();
            // Called once, by the browser, when the lock is granted; freed after that call.
            let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
                if !granted.wanted.get() {
                    return JsValue::UNDEFINED;
                }
                on_granted();
                Promise::new(&mut |resolve, _reject| *granted.release.borrow_mut() = Some(resolve)).into()
            });
            let _ = request.call2(&locks, &JsValue::from_str(name), &callback);
        }
    }
    LockHandle { held }
}

impl Drop for LockHandle {
    fn drop(&mut self) {
        self.held.wanted.set(false);
        if let Some(release) = self.held.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use futures_channel::oneshot;
    use gloo_timers::future::TimeoutFuture;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::{hold, LockHandle};

    /// Asks for `name`; the receiver completes when the lock is granted, and the flag says
    /// whether it was.
    fn request(name: &str) -> (LockHandle, oneshot::Receiver<()>, Rc<Cell<bool>>) {
        let (granted_tx, granted_rx) = oneshot::channel();
        let granted = Rc::new(Cell::new(false));
        let flag = granted.clone();
        let handle = hold(name, move || {
            flag.set(true);
            let _ = granted_tx.send(());
        });
        (handle, granted_rx, granted)
    }

    #[test]
    async fn one_holder_at_a_time_and_the_next_one_takes_over_on_drop() {
        let (first, first_granted, _) = request("licet-test-lock");
        first_granted.await.unwrap();

        let (_second, second_granted, second_flag) = request("licet-test-lock");
        // While the first holds the lock, the second waits.
        TimeoutFuture::new(50).await;
        assert!(!second_flag.get());
        drop(first);
        second_granted.await.unwrap();
        assert!(second_flag.get());
    }

    #[test]
    async fn a_handle_dropped_before_its_grant_gives_the_lock_straight_back() {
        let (first, first_granted, _) = request("licet-test-lock-2");
        first_granted.await.unwrap();
        let (abandoned, _, abandoned_flag) = request("licet-test-lock-2");
        drop(abandoned);
        let (_third, third_granted, _) = request("licet-test-lock-2");
        drop(first);
        third_granted.await.unwrap();
        assert!(!abandoned_flag.get(), "the abandoned request never ran its callback");
    }
}
