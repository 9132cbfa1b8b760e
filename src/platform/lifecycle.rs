//! Page lifecycle: calls back when the page is being hidden or unloaded (`pagehide` on the
//! global, `visibilitychange` on the document where there is one), so counts still in memory
//! reach IndexedDB before the page may be frozen or discarded. Workers have neither event and
//! rely on the batch timer alone.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::EventTarget;

use crate::platform::browser::property;

/// Listens until dropped.
#[must_use = "the listeners are removed as soon as the handle is dropped"]
pub struct HideListener {
    targets: Vec<(EventTarget, &'static str)>,
    callback: Closure<dyn FnMut()>,
}

impl HideListener {
    pub fn listen(callback: impl FnMut() + 'static) -> Self {
        let callback = Closure::<dyn FnMut()>::new(callback);
        let global = js_sys::global();
        let document = property(&global, "document");
        let mut targets = Vec::new();
        for (target, event) in [(JsValue::from(global), "pagehide"), (document, "visibilitychange")] {
            if let Ok(target) = target.dyn_into::<EventTarget>() {
                if target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref()).is_ok() {
                    targets.push((target, event));
                }
            }
        }
        HideListener { targets, callback }
    }
}

impl Drop for HideListener {
    fn drop(&mut self) {
        for (target, event) in &self.targets {
            let _ = target.remove_event_listener_with_callback(event, self.callback.as_ref().unchecked_ref());
        }
    }
}
