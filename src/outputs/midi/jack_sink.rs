//! JACK MIDI written with frame offsets: weft's own JACK client (`weft`, port `midi_out`).
//!
//! The sender thread hands each message over `lead` before it is due, in schedule order,
//! stamped with its due time on JACK's microsecond clock; the process callback takes the
//! messages due before the next cycle and writes each at
//! `offset = (due − cycle start) × frames / period` (at least the previous offset: JACK wants
//! them in order). So a message lands on its own frame inside the period instead of at the
//! start of the next one (what midir's JACK backend does: up to a period of jitter). A late
//! message goes at offset 0. The callback allocates nothing and takes no lock.

use super::{MidiError, MidiSink, Msg};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages waiting for their cycle (a few periods' worth at most: the sender keeps the rest).
const RING: usize = 8192;

/// Why JACK could not be used.
pub(super) enum JackOpen {
    /// No server to join: the caller tries the ALSA sequencer.
    NoServer(String),
    /// A server runs but the port could not be made.
    Port(MidiError),
}

struct Process {
    port: jack::Port<jack::MidiOut>,
    rx: rtrb::Consumer<(u64, Msg)>,
    /// Messages the port buffer refused (counted, not retried: the cycle is over).
    unwritten: Arc<AtomicU64>,
}

impl jack::ProcessHandler for Process {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let n = ps.n_frames();
        let mut w = self.port.writer(ps);
        let Ok(ct) = ps.cycle_times() else {
            return jack::Control::Continue;
        };
        // JACK's DLL can report next < current around an xrun: then the nominal period.
        let span = match ct.next_usecs.saturating_sub(ct.current_usecs) {
            0 => (ct.period_usecs as u64).max(1),
            s => s,
        };
        let mut last = 0u32;
        while let Ok(&(t, m)) = self.rx.peek() {
            if t >= ct.next_usecs {
                break;
            }
            let off = (t.saturating_sub(ct.current_usecs) * n as u64 / span) as u32;
            let off = off.min(n.saturating_sub(1)).max(last);
            if w.write(&jack::RawMidi {
                time: off,
                bytes: m.bytes(),
            })
            .is_err()
            {
                self.unwritten.fetch_add(1, Ordering::Relaxed);
            }
            last = off;
            let _ = self.rx.pop();
        }
        jack::Control::Continue
    }
}

struct Notes {
    gone: Arc<AtomicBool>,
    xruns: Arc<AtomicU64>,
}

impl jack::NotificationHandler for Notes {
    /// The server missed a cycle (any client late, this one or the receiver): MIDI written
    /// in that cycle may never reach the receiver, so the performer is told.
    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.xruns.fetch_add(1, Ordering::Relaxed);
        jack::Control::Continue
    }

    unsafe fn shutdown(&mut self, _: jack::ClientStatus, _reason: &str) {
        self.gone.store(true, Ordering::Relaxed);
    }
}

/// JACK MIDI out at frame offsets (see the module docs).
pub struct JackSink {
    client: jack::AsyncClient<Notes, Process>,
    tx: rtrb::Producer<(u64, Msg)>,
    gone: Arc<AtomicBool>,
    unwritten: Arc<AtomicU64>,
    xruns: Arc<AtomicU64>,
    /// The last due time handed over (µs): the ring stays in time order.
    last_us: u64,
    lead: Duration,
}

impl JackSink {
    /// Joins a running JACK server as client `weft` with a MIDI port `midi_out`, connected to
    /// the first MIDI input whose name contains `name` (case-insensitive) unless `name` is
    /// `weft` or nothing matches. Returns the sink and a sentence saying which it did.
    pub(super) fn open(name: &str) -> Result<(JackSink, String), JackOpen> {
        jack::set_logger(jack::LoggerType::None);
        let (client, _) = jack::Client::new("weft", jack::ClientOptions::NO_START_SERVER)
            .map_err(|e| JackOpen::NoServer(e.to_string()))?;
        let port_err = |e: jack::Error| {
            JackOpen::Port(MidiError::Open {
                port: "weft:midi_out".into(),
                why: e.to_string(),
            })
        };
        let port = client
            .register_port("midi_out", jack::MidiOut::default())
            .map_err(port_err)?;
        let own = port.name().map_err(port_err)?;
        let wanted = name.to_lowercase();
        let target = (wanted != "weft")
            .then(|| {
                client
                    .ports(None, Some("midi"), jack::PortFlags::IS_INPUT)
                    .into_iter()
                    .find(|p| p.to_lowercase().contains(&wanted))
            })
            .flatten();
        // Two periods ahead (the callback runs just after its cycle starts), and 10 ms more
        // for a sender woken late on a loaded machine.
        let period = client.buffer_size() as u64 * 1_000_000 / client.sample_rate().max(1) as u64;
        let lead = Duration::from_micros(2 * period + 10_000);
        let (tx, rx) = rtrb::RingBuffer::new(RING);
        let gone = Arc::new(AtomicBool::new(false));
        let unwritten = Arc::new(AtomicU64::new(0));
        let xruns = Arc::new(AtomicU64::new(0));
        let client = client
            .activate_async(
                Notes {
                    gone: gone.clone(),
                    xruns: xruns.clone(),
                },
                Process {
                    port,
                    rx,
                    unwritten: unwritten.clone(),
                },
            )
            .map_err(port_err)?;
        let said = match &target {
            Some(t) => {
                client
                    .as_client()
                    .connect_ports_by_name(&own, t)
                    .map_err(|e| {
                        JackOpen::Port(MidiError::Open {
                            port: t.clone(),
                            why: e.to_string(),
                        })
                    })?;
                format!("MIDI out: connected to {t}")
            }
            None => {
                let why = if wanted == "weft" {
                    String::new()
                } else {
                    format!(" (no port matches '{name}')")
                };
                format!("MIDI out: created port {own}{why}; connect it to your synth")
            }
        };
        Ok((
            JackSink {
                client,
                tx,
                gone,
                unwritten,
                xruns,
                last_us: 0,
                lead,
            },
            said,
        ))
    }
}

impl MidiSink for JackSink {
    fn send(&mut self, bytes: &[u8], due: Instant) -> Result<(), String> {
        if self.gone.load(Ordering::Relaxed) {
            return Err("the JACK server went away".into());
        }
        let now_us = self.client.as_client().time();
        let now = Instant::now();
        let t = if due >= now {
            now_us + (due - now).as_micros() as u64
        } else {
            now_us.saturating_sub((now - due).as_micros() as u64)
        };
        let t = t.max(self.last_us);
        self.last_us = t;
        self.tx
            .push((t, Msg::new(bytes)))
            .map_err(|_| "JACK MIDI queue full".to_string())
    }

    fn lead(&self) -> Duration {
        self.lead
    }

    fn lost(&self) -> u64 {
        self.unwritten.load(Ordering::Relaxed)
    }

    fn xruns(&self) -> u64 {
        self.xruns.load(Ordering::Relaxed)
    }

    /// The last messages (note-offs, Stop, the panic) go out in the next cycles: wait for
    /// the ring to empty (at most a second) and one more period before closing the client.
    fn drain(&mut self) {
        let t0 = Instant::now();
        while self.tx.slots() < RING
            && t0.elapsed() < Duration::from_secs(1)
            && !self.gone.load(Ordering::Relaxed)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(self.lead);
    }
}
