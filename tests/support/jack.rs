//! A dummy JACK server for a test: started with its own name, found by clients through
//! `JACK_DEFAULT_SERVER`, stopped by its PID when dropped. No sound card needed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct DummyJack {
    pub name: String,
    child: Child,
    /// One JACK server per test binary at a time: each test runs a real-time server, weft
    /// and a receiver, and two such sets on two loaded cores starve the receiver.
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `jackd` on PATH, or None (the caller skips, saying why).
pub fn jackd() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("jackd"))
        .find(|p| p.is_file())
}

impl DummyJack {
    /// Starts `jackd -n NAME -d dummy -r 48000 -p PERIOD` and waits until `jack_lsp` sees it.
    pub fn start(tag: &str, period: u32) -> DummyJack {
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("weft-{tag}-{}", std::process::id());
        let child = Command::new(jackd().expect("jackd installed"))
            .args(["-n", &name, "-d", "dummy", "-r", "48000", "-p"])
            .arg(period.to_string())
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jackd");
        let j = DummyJack {
            name,
            child,
            _one_at_a_time: guard,
        };
        let t0 = Instant::now();
        loop {
            let ok = Command::new("jack_lsp")
                .env("JACK_DEFAULT_SERVER", &j.name)
                .env("JACK_NO_START_SERVER", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return j;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "jackd {} did not come up",
                j.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A command whose JACK clients find this server (and never start another).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("JACK_DEFAULT_SERVER", &self.name)
            .env("JACK_NO_START_SERVER", "1");
        c
    }
}

impl Drop for DummyJack {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PID of the child this value started and still owns.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
