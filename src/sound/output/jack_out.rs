//! The JACK client of the audio output: joins the running server as `weft` with ports
//! `weft:out_1`/`out_2`, follows its rate and period, runs the same render callback and
//! counts xruns as underruns (see the parent module's docs).

use super::*;

/// Frames rendered per engine call into the interleaved scratch; a longer JACK period is
/// rendered in several pieces.
const PIECE: usize = 2048;

pub(super) type Running = jack::AsyncClient<Notes, Process>;

pub(super) enum Failed {
    Synth(SynthError),
    /// The client joined but could not start.
    Device(String),
    /// No server (or it refused the client): the inputs come back for the null sink.
    NoServer(Box<NoServer>),
}

pub(super) struct NoServer {
    pub why: String,
    pub events: Consumer<TimedEvent>,
    pub tap: Option<Producer<f32>>,
    pub synth_cfg: SynthConfig,
    pub errors: Receiver<String>,
}

pub(super) struct Process {
    callback: Callback,
    ports: [jack::Port<jack::AudioOut>; 2],
    scratch: Vec<f32>,
}

impl jack::ProcessHandler for Process {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let [l, r] = &mut self.ports;
        let (l, r) = (l.as_mut_slice(ps), r.as_mut_slice(ps));
        let mut done = 0;
        while done < l.len() {
            let n = (l.len() - done).min(PIECE);
            let buf = &mut self.scratch[..2 * n];
            self.callback.render(buf, 2);
            for (i, f) in buf.chunks_exact(2).enumerate() {
                l[done + i] = f[0];
                r[done + i] = f[1];
            }
            done += n;
        }
        jack::Control::Continue
    }
}

pub(super) struct Notes {
    meters: Arc<Meters>,
    errors: SyncSender<String>,
}

impl jack::NotificationHandler for Notes {
    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.meters.underruns.fetch_add(1, Ordering::Relaxed);
        jack::Control::Continue
    }
    // SAFETY: `unsafe` only because jack's trait declares it so (it runs on libjack's
    // thread while the server goes away); the body calls no libjack function, it only
    // offers a message to a bounded channel.
    unsafe fn shutdown(&mut self, _: jack::ClientStatus, reason: &str) {
        let _ = self
            .errors
            .try_send(format!("the JACK server shut down: {reason}"));
    }
}

pub(super) fn start(
    cfg: &AudioConfig,
    events: Consumer<TimedEvent>,
    tap: Option<Producer<f32>>,
    synth_cfg: SynthConfig,
    err_tx: SyncSender<String>,
    err_rx: Receiver<String>,
) -> Result<AudioHandle, Failed> {
    jack::set_logger(jack::LoggerType::None);
    let client = match jack::Client::new(JACK_CLIENT, jack::ClientOptions::NO_START_SERVER) {
        Ok((c, _)) => c,
        Err(e) => {
            return Err(Failed::NoServer(Box::new(NoServer {
                why: format!("no server to join ({e}); start jackd or qjackctl"),
                events,
                tap,
                synth_cfg,
                errors: err_rx,
            })))
        }
    };
    let no_ports = |e: jack::Error,
                    events: Consumer<TimedEvent>,
                    tap: Option<Producer<f32>>,
                    errors: Receiver<String>| {
        Failed::NoServer(Box::new(NoServer {
            why: format!("could not register output ports ({e})"),
            events,
            tap,
            synth_cfg: synth_cfg.clone(),
            errors,
        }))
    };
    let l = client.register_port("out_1", jack::AudioOut::default());
    let r = client.register_port("out_2", jack::AudioOut::default());
    let (l, r) = match (l, r) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(e), _) | (_, Err(e)) => return Err(no_ports(e, events, tap, err_rx)),
    };
    let sample_rate = client.sample_rate() as u32;
    let period = client.buffer_size();
    let name = client.name().to_string();
    let (engine, warnings) = Engine::new(SynthConfig {
        sample_rate,
        ..synth_cfg.clone()
    })
    .map_err(Failed::Synth)?;
    let callback = Callback::new(engine, events, tap);
    let meters = callback.meters();
    let process = Process {
        callback,
        ports: [l, r],
        scratch: vec![0.0; 2 * PIECE],
    };
    let notes = Notes {
        meters: meters.clone(),
        errors: err_tx,
    };
    let active = match client.activate_async(notes, process) {
        Ok(a) => a,
        Err(e) => {
            // The engine and the rings went into the handler that could not start; the
            // session cannot go on without them.
            return Err(Failed::Device(format!(
                "could not activate the JACK client: {e}"
            )));
        }
    };
    let mut warnings = warnings;
    warnings.push(format!(
        "audio: JACK server at {sample_rate} Hz, {period} frames a period ({:.1} ms); \
         weft follows it",
        period as f64 * 1000.0 / sample_rate as f64
    ));
    if cfg.connect {
        let c = active.as_client();
        let playback = c.ports(
            None,
            Some("32 bit float mono audio"),
            jack::PortFlags::IS_INPUT | jack::PortFlags::IS_PHYSICAL,
        );
        if playback.is_empty() {
            warnings.push("audio: JACK has no playback ports to connect to".to_string());
        }
        for (i, dst) in playback.iter().take(2).enumerate() {
            let src = format!("{name}:out_{}", i + 1);
            if let Err(e) = c.connect_ports_by_name(&src, dst) {
                warnings.push(format!("audio: could not connect {src} to {dst}: {e}"));
            }
        }
    }
    Ok(AudioHandle {
        meters,
        sample_rate,
        device_name: format!("jack:{name}"),
        errors: err_rx,
        warnings,
        stream: None,
        null: None,
        jack: Some(active),
    })
}
