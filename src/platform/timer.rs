//! A repeating browser timer behind an RAII handle, for the report schedule and the batched
//! writes of counts. Dropping the handle stops it, so a page that re-initializes never runs two.

use gloo_timers::callback::Interval;

/// Calls its tick every period until dropped.
#[must_use = "the timer stops as soon as its handle is dropped"]
pub struct Ticker {
    _interval: Interval,
}

impl Ticker {
    pub fn start(period_ms: u32, tick: impl FnMut() + 'static) -> Self {
        Ticker { _interval: Interval::new(period_ms, tick) }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use futures_channel::mpsc;
    use futures_util::StreamExt;
    use gloo_timers::future::TimeoutFuture;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::Ticker;

    #[test]
    async fn ticks_repeat_until_the_handle_is_dropped() {
        let (sender, mut ticks) = mpsc::unbounded();
        let count = Rc::new(Cell::new(0));
        let counter = count.clone();
        let timer = Ticker::start(5, move || {
            counter.set(counter.get() + 1);
            let _ = sender.unbounded_send(());
        });
        ticks.next().await;
        ticks.next().await;
        drop(timer);
        let after_drop = count.get();
        assert!(after_drop >= 2);
        // Ten periods with the handle gone: a live timer would have ticked again.
        TimeoutFuture::new(50).await;
        assert_eq!(count.get(), after_drop);
    }
}
