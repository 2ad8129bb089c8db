//! The input thread: reads terminal events (crossterm) and forwards them as `AppEvent`s.
//!
//! It polls with a short timeout so [`InputThread::stop`] ends it promptly (and does not
//! wait for it forever when the terminal is gone); it never touches UI state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossterm::event::{self, Event};

use super::messages::Level;
use super::AppEvent;

pub struct InputThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl InputThread {
    pub fn spawn(tx: Sender<AppEvent>) -> InputThread {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("weft-tui-input".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let ev = match event::poll(Duration::from_millis(50)) {
                        Ok(false) => continue,
                        Ok(true) => event::read(),
                        Err(e) => Err(e),
                    };
                    let app_ev = match ev {
                        Ok(Event::Key(k)) => AppEvent::Key(k),
                        Ok(Event::Mouse(m)) => AppEvent::Mouse(m),
                        Ok(Event::Resize(w, h)) => AppEvent::Resize(w, h),
                        Ok(_) => continue,
                        Err(e) => {
                            let _ = tx.send(AppEvent::Message(
                                Level::Error,
                                format!("terminal input failed: {e}"),
                            ));
                            break;
                        }
                    };
                    if tx.send(app_ev).is_err() {
                        break;
                    }
                }
            })
            .ok();
        InputThread { stop, thread }
    }

    /// Stops the thread and waits for it: normally one poll interval. When the terminal
    /// has gone away (the window was closed) a read can stay stuck inside crossterm; after
    /// half a second the thread is left behind rather than holding up the exit (it ends
    /// with the process).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let deadline = std::time::Instant::now() + Duration::from_millis(500);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for InputThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
