//! Workers' sockets watched by Node's own event loop, so that while the main thread is idle
//! a worker's answer wakes it directly and it reads the answer itself (see
//! `pool::read_side`). One libuv poll handle per worker, with a descriptor of its own; the
//! handles are unreferenced (they never keep Node alive) and started only while the
//! consumer keeps up (`Handover`).
//!
//! libuv's functions are looked up in the running process (Node exports them) rather than
//! linked, so the crate also builds and tests without Node. Everything here runs on Node's
//! main thread: the binding calls it there, and libuv calls back there.

use std::alloc::{alloc, dealloc, Layout};
use std::ffi::{c_int, c_void, CStr};
use std::rc::Rc;
use std::sync::OnceLock;

use rustc_hash::FxHashMap as HashMap;

use crate::events::WorkerId;
use crate::manager::Manager;
use crate::pool::read_side::{ConsumerRead, ConsumerWatch, Handover, WatchChange};

type PollCb = extern "C" fn(*mut c_void, c_int, c_int);
type CloseCb = extern "C" fn(*mut c_void);

/// `UV_POLL` in libuv's `uv_handle_type`, `UV_READABLE` in `uv_poll_event`.
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

/// The libuv functions used here, found in the process.
struct Uv {
    handle_size: extern "C" fn(c_int) -> usize,
    poll_init: extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int,
    poll_start: extern "C" fn(*mut c_void, c_int, PollCb) -> c_int,
    poll_stop: extern "C" fn(*mut c_void) -> c_int,
    close: extern "C" fn(*mut c_void, CloseCb),
    unref: extern "C" fn(*mut c_void),
    set_data: extern "C" fn(*mut c_void, *mut c_void),
    get_data: extern "C" fn(*const c_void) -> *mut c_void,
}

fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the whole process.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

fn uv() -> Option<&'static Uv> {
    static UV: OnceLock<Option<Uv>> = OnceLock::new();
    UV.get_or_init(|| {
        // SAFETY: each symbol is libuv's function of that name, whose C signature is the
        // field's type (which is what each transmute targets).
        #[allow(clippy::missing_transmute_annotations)]
        unsafe {
            Some(Uv {
                handle_size: std::mem::transmute(symbol(c"uv_handle_size")?),
                poll_init: std::mem::transmute(symbol(c"uv_poll_init")?),
                poll_start: std::mem::transmute(symbol(c"uv_poll_start")?),
                poll_stop: std::mem::transmute(symbol(c"uv_poll_stop")?),
                close: std::mem::transmute(symbol(c"uv_close")?),
                unref: std::mem::transmute(symbol(c"uv_unref")?),
                set_data: std::mem::transmute(symbol(c"uv_handle_set_data")?),
                get_data: std::mem::transmute(symbol(c"uv_handle_get_data")?),
            })
        }
    })
    .as_ref()
}

fn handle_layout(uv: &Uv) -> Layout {
    Layout::from_size_align((uv.handle_size)(UV_POLL), 16).expect("uv_poll_t layout")
}

/// Has JS take the core's events now (its `onWake`, called directly).
pub type TakeNow = Rc<dyn Fn()>;

/// One worker's poll handle and what its callback needs.
struct Watch {
    handle: *mut c_void,
    watch: ConsumerWatch,
    manager: Manager,
    take_now: TakeNow,
    polling: bool,
    /// The socket ended or failed: never started again.
    done: bool,
}

impl Watch {
    fn start(&mut self, uv: &Uv) {
        if !self.polling && !self.done {
            self.polling = (uv.poll_start)(self.handle, UV_READABLE, on_readable) == 0;
            self.watch.set_polled(self.polling);
        }
    }

    fn stop(&mut self, uv: &Uv) {
        if self.polling {
            (uv.poll_stop)(self.handle);
            self.polling = false;
            self.watch.set_polled(false);
        }
    }
}

extern "C" fn on_readable(handle: *mut c_void, status: c_int, _events: c_int) {
    let Some(uv) = uv() else { return };
    // SAFETY: the handle's data is its Watch, alive until the handle's close callback.
    let w = unsafe { &mut *((uv.get_data)(handle) as *mut Watch) };
    if status < 0 {
        w.stop(uv);
        w.done = true;
        return;
    }
    let (read, take) = w.manager.read_now(&w.watch);
    match read {
        ConsumerRead::Read | ConsumerRead::Busy => {}
        ConsumerRead::Held => w.stop(uv),
        ConsumerRead::Closed => {
            w.stop(uv);
            w.done = true;
        }
    }
    if take {
        // JS may stop or close this watch meanwhile: `w` is not used after this.
        let take_now = w.take_now.clone();
        take_now();
    }
}

extern "C" fn on_closed(handle: *mut c_void) {
    let Some(uv) = uv() else { return };
    // SAFETY: the data was set from Box::into_raw when the handle was made; this is the
    // handle's last callback.
    unsafe {
        drop(Box::from_raw((uv.get_data)(handle) as *mut Watch));
        dealloc(handle.cast(), handle_layout(uv));
    }
}

/// The poll handles of one manager's workers.
pub struct LoopReads {
    uv: &'static Uv,
    uv_loop: *mut c_void,
    manager: Manager,
    take_now: TakeNow,
    watches: HashMap<WorkerId, *mut Watch>,
    handover: Handover,
}

impl LoopReads {
    /// For the manager, on the loop `uv_loop` (Node's, from `napi_get_uv_event_loop`).
    /// None when this process has no libuv to call.
    /// `take_now` is how a read made here hands JS its events at once.
    pub fn new(uv_loop: *mut c_void, manager: &Manager, take_now: TakeNow) -> Option<LoopReads> {
        let uv = uv()?;
        if uv_loop.is_null() {
            return None;
        }
        manager.offer_read_sides();
        Some(LoopReads {
            uv,
            uv_loop,
            manager: manager.clone(),
            take_now,
            watches: HashMap::default(),
            handover: Handover::default(),
        })
    }

    /// After JS took a batch holding `results` results: watches workers that started and
    /// drops those that ended, then starts or stops reading as `Handover` decides.
    pub fn after_take(&mut self, results: usize) {
        for change in self.manager.take_watch_changes() {
            match change {
                WatchChange::Start(watch) => self.add(watch),
                WatchChange::End(id) => self.remove(id),
            }
        }
        if let Some(on) = self.handover.after_take(results, self.manager.is_flowing()) {
            self.set_all(on);
        } else if self.handover.consumer_reads() {
            // Handles stopped themselves while results were held: start them again.
            self.set_all(true);
        }
    }

    /// The readable side paused: stop reading at once.
    pub fn pause(&mut self) {
        if self.handover.pause() {
            self.set_all(false);
        }
    }

    fn set_all(&mut self, on: bool) {
        for &w in self.watches.values() {
            // SAFETY: watches in the map are alive (freed only after removal, by on_closed).
            let w = unsafe { &mut *w };
            if on {
                w.start(self.uv);
            } else {
                w.stop(self.uv);
            }
        }
    }

    fn add(&mut self, watch: ConsumerWatch) {
        use std::os::fd::AsRawFd;
        let uv = self.uv;
        let layout = handle_layout(uv);
        // SAFETY: a non-zero size from libuv itself.
        let handle = unsafe { alloc(layout) } as *mut c_void;
        if handle.is_null() {
            return;
        }
        if (uv.poll_init)(self.uv_loop, handle, watch.fd.as_raw_fd()) != 0 {
            // SAFETY: allocated above with this layout; libuv did not keep it.
            unsafe { dealloc(handle.cast(), layout) };
            return; // the core's reader alone reads this worker
        }
        (uv.unref)(handle);
        let id = watch.worker;
        let w = Box::into_raw(Box::new(Watch {
            handle,
            watch,
            manager: self.manager.clone(),
            take_now: self.take_now.clone(),
            polling: false,
            done: false,
        }));
        (uv.set_data)(handle, w.cast());
        if self.handover.consumer_reads() {
            // SAFETY: just made.
            unsafe { (*w).start(uv) };
        }
        if let Some(old) = self.watches.insert(id, w) {
            self.close(old);
        }
    }

    fn remove(&mut self, id: WorkerId) {
        if let Some(w) = self.watches.remove(&id) {
            self.close(w);
        }
    }

    fn close(&self, w: *mut Watch) {
        // SAFETY: `w` was just taken out of the map and is alive until on_closed.
        let w = unsafe { &mut *w };
        w.stop(self.uv);
        (self.uv.close)(w.handle, on_closed);
    }
}

impl Drop for LoopReads {
    fn drop(&mut self) {
        for (_, w) in std::mem::take(&mut self.watches) {
            self.close(w);
        }
    }
}
