//! Audio output stage: runs the synth [`Engine`] on a real-time thread and publishes the
//! audio clock.
//!
//! Data flow: scheduler → `rtrb::Consumer<TimedEvent>` → [`Callback::render`] (engine block
//! → device channels, mono copy → analyzer tap ring) → cpal output stream, or, when no
//! device can be opened (or `--null-audio`), the null sink: a thread that renders the same
//! blocks paced by the system clock so the audio clock and the tap still advance.
//!
//! Meters (frames rendered, load %, underruns, late events) are atomics in [`Meters`];
//! device errors travel over a channel. The callback never allocates, locks, logs or does
//! I/O. Device probing runs with alsa-lib's error output captured (it would otherwise
//! write to fd 2 and corrupt a raw-mode terminal).
//!
//! JACK (`--host jack`, or `--device jack`): a client `weft` of the running server through
//! the `jack` crate, with ports `weft:out_1`/`out_2` connected to the physical playback
//! ports (`system:playback_*`) unless `--no-connect`; the sample rate and the buffer size
//! are the server's; the same [`Callback`] renders into the ports; JACK's xrun
//! notifications count as underruns. cpal's own `jack` host fell short (measured with
//! cpal 0.18.2): it names its client `cpal_client_<pid>_out` whatever name is asked for,
//! its ports `out_0`/`out_1`, and connects them to the system ports even after
//! `set_connect_automatically(false)` (its devices are made, with the defaults, when the
//! host is). No server running is a fallback to the null sink like a missing card, said
//! once. libjack's own messages are silenced (they would land on the terminal).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use rtrb::{Consumer, Producer};

use crate::engine::event::{Frame, TimedEvent};
use crate::sound::synth::{Engine, SynthConfig, SynthError};

/// Largest block the callback renders in one engine call; longer device buffers are split.
const MAX_BLOCK: usize = 4096;
/// Name reported by the null sink.
pub const NULL_SINK: &str = "null sink";

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(transparent)]
    Synth(#[from] SynthError),
    #[error("no output device matches '{0}' (see `weft devices`)")]
    NoSuchDevice(String),
    #[error("audio device '{device}': {message}")]
    Device { device: String, message: String },
    #[error("could not start the null sink thread: {0}")]
    Thread(std::io::Error),
}

/// How to open the output.
#[derive(Clone, Debug)]
pub struct AudioConfig {
    /// Device id or name (`weft devices`); `None` = the host's default output.
    pub device: Option<String>,
    /// Audio host: `None` = the system's (ALSA on Linux), `jack` = a running JACK server.
    pub host: Option<String>,
    /// JACK: connect the output ports to `system:playback_*`.
    pub connect: bool,
    /// Skip devices and run on the null sink.
    pub null_audio: bool,
    pub sample_rate: u32,
    pub buffer_frames: u32,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            device: None,
            host: None,
            connect: true,
            null_audio: false,
            sample_rate: 48_000,
            buffer_frames: 256,
        }
    }
}

/// Real-time meters, written by the audio thread and read by anyone.
#[derive(Debug, Default)]
pub struct Meters {
    frames: AtomicU64,
    load_bits: AtomicU32,
    underruns: AtomicU64,
    late_events: AtomicU64,
    stream_late: AtomicU64,
    tap_dropped: AtomicU64,
}

/// A snapshot of the meters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AudioStats {
    /// Time spent rendering the last block, as % of that block's duration.
    pub load_pct: f32,
    pub underruns: u64,
    pub late_events: u64,
    /// Frames of streamed sample files played as silence because the streaming thread had not
    /// read them in time (`Engine::stream_underruns`): the disk could not keep up.
    pub stream_late: u64,
    /// Tap samples dropped because the analyzer ring was full.
    pub tap_dropped: u64,
}

impl Meters {
    pub fn now_frame(&self) -> Frame {
        self.frames.load(Ordering::Acquire)
    }
    pub fn stats(&self) -> AudioStats {
        AudioStats {
            load_pct: f32::from_bits(self.load_bits.load(Ordering::Relaxed)),
            underruns: self.underruns.load(Ordering::Relaxed),
            late_events: self.late_events.load(Ordering::Relaxed),
            stream_late: self.stream_late.load(Ordering::Relaxed),
            tap_dropped: self.tap_dropped.load(Ordering::Relaxed),
        }
    }
}

/// The body of the audio callback: everything the real-time thread does per buffer.
/// Public so tests and benches can drive exactly the code the device runs.
pub struct Callback {
    engine: Engine,
    events: Consumer<TimedEvent>,
    tap: Option<Producer<f32>>,
    meters: Arc<Meters>,
    scratch: Vec<f32>,
    clock: Frame,
    sample_rate: f64,
}

impl Callback {
    pub fn new(engine: Engine, events: Consumer<TimedEvent>, tap: Option<Producer<f32>>) -> Self {
        let sample_rate = engine.sample_rate() as f64;
        Callback {
            engine,
            events,
            tap,
            meters: Arc::new(Meters::default()),
            scratch: vec![0.0; 2 * MAX_BLOCK],
            clock: 0,
            sample_rate,
        }
    }

    pub fn meters(&self) -> Arc<Meters> {
        self.meters.clone()
    }

    /// Fills interleaved `out` with `channels` channels (stereo → L, R, rest silent; mono
    /// gets the average). Advances the audio clock by the frames written.
    pub fn render<T: cpal::Sample + cpal::FromSample<f32>>(
        &mut self,
        out: &mut [T],
        channels: usize,
    ) {
        let started = Instant::now();
        let channels = channels.max(1);
        let total = out.len() / channels;
        let mut done = 0;
        while done < total {
            let n = (total - done).min(MAX_BLOCK);
            let block = &mut self.scratch[..2 * n];
            let events = &mut self.events;
            self.engine
                .process(self.clock, block, &mut |end| match events.peek() {
                    Ok(e) if e.frame < end => events.pop().ok(),
                    _ => None,
                });
            let dst = &mut out[done * channels..(done + n) * channels];
            for (o, s) in dst.chunks_exact_mut(channels).zip(block.chunks_exact(2)) {
                if channels == 1 {
                    o[0] = T::from_sample(0.5 * (s[0] + s[1]));
                } else {
                    o[0] = T::from_sample(s[0]);
                    o[1] = T::from_sample(s[1]);
                    for x in &mut o[2..] {
                        *x = T::from_sample(0.0f32);
                    }
                }
            }
            if let Some(tap) = &mut self.tap {
                let mut dropped = 0u64;
                for s in block.chunks_exact(2) {
                    if tap.push(0.5 * (s[0] + s[1])).is_err() {
                        dropped += 1;
                    }
                }
                if dropped > 0 {
                    self.meters
                        .tap_dropped
                        .fetch_add(dropped, Ordering::Relaxed);
                }
            }
            self.clock += n as Frame;
            done += n;
        }
        // Leftover samples of a partial frame (never expected) are silenced.
        for x in &mut out[total * channels..] {
            *x = T::from_sample(0.0f32);
        }
        self.meters.frames.store(self.clock, Ordering::Release);
        self.meters
            .late_events
            .store(self.engine.late_events(), Ordering::Relaxed);
        self.meters
            .stream_late
            .store(self.engine.stream_underruns(), Ordering::Relaxed);
        if total > 0 {
            let period = total as f64 / self.sample_rate;
            let load = (started.elapsed().as_secs_f64() / period * 100.0) as f32;
            self.meters
                .load_bits
                .store(load.to_bits(), Ordering::Relaxed);
        }
    }
}

/// A running output. Stops (stream closed, null thread joined) on drop.
pub struct AudioHandle {
    meters: Arc<Meters>,
    sample_rate: u32,
    device_name: String,
    /// Device errors from the stream's error callback (and the null sink).
    pub errors: Receiver<String>,
    /// One-line notices for the messages pane: which device was tried and what weft does
    /// instead, missing SoundFont or samples.
    pub warnings: Vec<String>,
    stream: Option<cpal::Stream>,
    null: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    #[cfg(target_os = "linux")]
    jack: Option<jack_out::Running>,
}

impl AudioHandle {
    /// The audio clock: frames rendered so far.
    pub fn now_frame(&self) -> Frame {
        self.meters.now_frame()
    }
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    pub fn device_name(&self) -> String {
        self.device_name.clone()
    }
    pub fn stats(&self) -> AudioStats {
        self.meters.stats()
    }
    pub fn meters(&self) -> Arc<Meters> {
        self.meters.clone()
    }
    pub fn is_null(&self) -> bool {
        #[cfg(target_os = "linux")]
        if self.jack.is_some() {
            return false;
        }
        self.stream.is_none()
    }
}

impl Drop for AudioHandle {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(j) = self.jack.take() {
            // Deactivates the client (its ports disappear) and joins JACK's threads.
            let _ = j.deactivate();
        }
        if let Some(stream) = self.stream.take() {
            let _ = stream.pause();
            drop(stream);
        }
        if let Some((stop, thread)) = self.null.take() {
            stop.store(true, Ordering::Release);
            let _ = thread.join();
        }
    }
}

/// Runs `f` with alsa-lib's error messages captured instead of written to stderr; returns
/// the result and the captured text (empty when nothing was said).
fn quiet_alsa<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[cfg(target_os = "linux")]
    {
        let handler = alsa::Output::local_error_handler().ok();
        let r = f();
        let text = handler.map(|h| h.borrow().to_string()).unwrap_or_default();
        // Replace the buffer so later messages do not accumulate in this one.
        let _ = alsa::Output::local_error_handler();
        (r, text)
    }
    #[cfg(not(target_os = "linux"))]
    {
        (f(), String::new())
    }
}

/// One output device as `weft devices` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    /// Stable id for `--device` (e.g. `alsa:hw:0,0`).
    pub id: String,
    pub name: String,
    pub is_default: bool,
    /// Default output config, or why it could not be opened.
    pub config: Result<String, String>,
}

/// The client name weft asks cpal's JACK host for (cpal appends `_out`).
pub const JACK_CLIENT: &str = "weft";

/// Whether this configuration asks for JACK (`--host jack` or `--device jack`).
pub fn wants_jack(cfg: &AudioConfig) -> bool {
    cfg.host
        .as_deref()
        .is_some_and(|h| h.eq_ignore_ascii_case("jack"))
        || cfg
            .device
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("jack"))
}

/// The JACK output as `weft devices` shows it, when a server runs.
fn jack_info() -> Option<DeviceInfo> {
    #[cfg(target_os = "linux")]
    {
        jack::set_logger(jack::LoggerType::None);
        let (client, _) =
            jack::Client::new("weft_probe", jack::ClientOptions::NO_START_SERVER).ok()?;
        Some(DeviceInfo {
            id: "jack".to_string(),
            name: format!("JACK ({JACK_CLIENT}:out_1/2)"),
            is_default: false,
            config: Ok(format!(
                "2 ch, {} Hz, f32, {} frames (the server's)",
                client.sample_rate(),
                client.buffer_size()
            )),
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Lists the output devices of the default host (alsa-lib noise suppressed), and JACK's
/// when a server runs.
pub fn list_devices() -> Vec<DeviceInfo> {
    let mut devices = list_default_host();
    devices.extend(jack_info());
    devices
}

fn list_default_host() -> Vec<DeviceInfo> {
    quiet_alsa(|| {
        let host = cpal::default_host();
        let default_id = host
            .default_output_device()
            .and_then(|d| d.id().ok())
            .map(|id| id.to_string());
        let Ok(devices) = host.output_devices() else {
            return Vec::new();
        };
        devices
            .map(|d| {
                let id = d.id().map(|i| i.to_string()).unwrap_or_default();
                let name = d
                    .description()
                    .map(|x| x.name().to_string())
                    .unwrap_or_else(|_| id.clone());
                let config = d
                    .default_output_config()
                    .map(|c| {
                        format!(
                            "{} ch, {} Hz, {}",
                            c.channels(),
                            c.sample_rate(),
                            c.sample_format()
                        )
                    })
                    .map_err(|e| e.to_string());
                DeviceInfo {
                    is_default: Some(&id) == default_id.as_ref(),
                    id,
                    name,
                    config,
                }
            })
            .collect()
    })
    .0
}

fn find_device(host: &cpal::Host, want: &str) -> Option<cpal::Device> {
    let devices: Vec<cpal::Device> = host.output_devices().ok()?.collect();
    let id_of = |d: &cpal::Device| d.id().map(|i| i.to_string()).unwrap_or_default();
    let name_of = |d: &cpal::Device| {
        d.description()
            .map(|x| x.name().to_string())
            .unwrap_or_default()
    };
    let exact = devices
        .iter()
        .position(|d| id_of(d) == want || name_of(d) == want);
    let idx = exact.or_else(|| {
        let w = want.to_lowercase();
        devices.iter().position(|d| {
            id_of(d).to_lowercase().contains(&w) || name_of(d).to_lowercase().contains(&w)
        })
    })?;
    devices.into_iter().nth(idx)
}

/// Opens the output and starts rendering. With no usable device (the usual case in
/// containers: ALSA offers "default" but it cannot be opened) it falls back to the null
/// sink and says so once in `warnings`. `--device null` (or `none`) selects the null sink.
pub fn start(
    cfg: AudioConfig,
    events: Consumer<TimedEvent>,
    tap: Option<Producer<f32>>,
    synth_cfg: SynthConfig,
) -> Result<AudioHandle, AudioError> {
    let (err_tx, err_rx) = sync_channel::<String>(64);
    let mut warnings = Vec::new();
    let wants_null = cfg.null_audio || matches!(cfg.device.as_deref(), Some("null") | Some("none"));
    if wants_null {
        return start_null(cfg, events, tap, synth_cfg, err_rx, warnings);
    }
    #[cfg(target_os = "linux")]
    if wants_jack(&cfg) {
        return match jack_out::start(&cfg, events, tap, synth_cfg, err_tx, err_rx) {
            Ok(handle) => Ok(handle),
            Err(jack_out::Failed::Synth(e)) => Err(e.into()),
            Err(jack_out::Failed::Device(message)) => Err(AudioError::Device {
                device: "jack".to_string(),
                message,
            }),
            Err(jack_out::Failed::NoServer(back)) => {
                let jack_out::NoServer {
                    why,
                    events,
                    tap,
                    synth_cfg,
                    errors,
                } = *back;
                warnings.push(format!(
                    "audio: JACK: {why}; playing silently on the null sink, clocked by the \
                     system timer"
                ));
                start_null(cfg, events, tap, synth_cfg, errors, warnings)
            }
        };
    }
    let (opened, alsa_text) = quiet_alsa(|| open_device(&cfg, &err_tx));
    let (tried, detail) = match opened {
        Ok(out) => {
            let (engine, w) = Engine::new(SynthConfig {
                sample_rate: out.config.sample_rate,
                ..synth_cfg
            })?;
            warnings.extend(w);
            let callback = Callback::new(engine, events, tap);
            let meters = callback.meters();
            let (stream, _) = quiet_alsa(|| {
                build_stream(&out.device, out.format, out.config, Some(callback), err_tx)
            });
            let dev_err = |e: &dyn std::fmt::Display| AudioError::Device {
                device: out.id.clone(),
                message: e.to_string(),
            };
            let stream = stream.map_err(|e| dev_err(&e))?;
            stream.play().map_err(|e| dev_err(&e))?;
            return Ok(AudioHandle {
                meters,
                sample_rate: out.config.sample_rate,
                device_name: out.id,
                errors: err_rx,
                warnings,
                stream: Some(stream),
                null: None,
                #[cfg(target_os = "linux")]
                jack: None,
            });
        }
        Err((tried, DeviceFailure::NotFound)) if cfg.device.is_some() || cfg.host.is_some() => {
            return Err(AudioError::NoSuchDevice(tried))
        }
        Err((tried, DeviceFailure::NotFound)) => (tried, "no output device".to_string()),
        Err((tried, DeviceFailure::Open(m))) => (tried, m),
    };
    let alsa_first = alsa_text.lines().next().map(str::trim).unwrap_or("");
    let alsa_note = if alsa_first.is_empty() {
        String::new()
    } else {
        format!(" [alsa: {alsa_first}]")
    };
    warnings.push(format!(
        "audio: could not open output device '{tried}' ({detail}){alsa_note}; \
         playing silently on the null sink, clocked by the system timer"
    ));
    start_null(cfg, events, tap, synth_cfg, err_rx, warnings)
}

enum DeviceFailure {
    NotFound,
    Open(String),
}

struct Opened {
    device: cpal::Device,
    id: String,
    format: cpal::SampleFormat,
    config: cpal::StreamConfig,
}

/// Picks the device and its config (f32 at the requested rate if offered, else the
/// device default) and proves it opens by building a silent stream: ALSA's "default"
/// without a card only fails at that point.
fn open_device(
    cfg: &AudioConfig,
    errors: &SyncSender<String>,
) -> Result<Opened, (String, DeviceFailure)> {
    if let Some(h) = cfg
        .host
        .as_deref()
        .filter(|h| !h.eq_ignore_ascii_case("default"))
    {
        return Err((format!("host {h}"), DeviceFailure::NotFound));
    }
    let host = cpal::default_host();
    let device = match &cfg.device {
        Some(want) => find_device(&host, want).ok_or((want.clone(), DeviceFailure::NotFound))?,
        None => host
            .default_output_device()
            .ok_or(("default".to_string(), DeviceFailure::NotFound))?,
    };
    let id = device
        .id()
        .map(|i| i.to_string())
        .unwrap_or_else(|_| "default".into());
    let fail = |e: &dyn std::fmt::Display| (id.clone(), DeviceFailure::Open(e.to_string()));
    let default = device.default_output_config().map_err(|e| fail(&e))?;
    let chosen = device
        .supported_output_configs()
        .map_err(|e| fail(&e))?
        .filter(|r| r.sample_format() == cpal::SampleFormat::F32)
        .find_map(|r| r.try_with_sample_rate(cfg.sample_rate))
        .unwrap_or(default);
    let format = chosen.sample_format();
    let mut config: cpal::StreamConfig = chosen.into();
    config.buffer_size = cpal::BufferSize::Fixed(cfg.buffer_frames);
    let probe =
        build_stream(&device, format, config, None, errors.clone()).map_err(|e| fail(&e))?;
    drop(probe);
    Ok(Opened {
        device,
        id,
        format,
        config,
    })
}

/// Builds an output stream of the device's sample format around `callback` (or a silent
/// one for probing).
fn build_stream(
    device: &cpal::Device,
    format: cpal::SampleFormat,
    config: cpal::StreamConfig,
    callback: Option<Callback>,
    errors: SyncSender<String>,
) -> Result<cpal::Stream, cpal::Error> {
    match format {
        cpal::SampleFormat::I16 => build::<i16>(device, config, callback, errors),
        cpal::SampleFormat::I32 => build::<i32>(device, config, callback, errors),
        cpal::SampleFormat::U16 => build::<u16>(device, config, callback, errors),
        _ => build::<f32>(device, config, callback, errors),
    }
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut callback: Option<Callback>,
    errors: SyncSender<String>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: cpal::SizedSample + cpal::FromSample<f32>,
{
    let channels = config.channels as usize;
    let meters = callback.as_ref().map(Callback::meters);
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| match &mut callback {
            Some(cb) => cb.render(out, channels),
            None => out.fill(T::EQUILIBRIUM),
        },
        move |e: cpal::Error| {
            // Runs on the stream's thread, not in the data callback.
            match (&meters, e.kind()) {
                (Some(m), cpal::ErrorKind::Xrun) => {
                    m.underruns.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    let _ = errors.try_send(e.to_string());
                }
            }
        },
        None,
    )
}

fn start_null(
    cfg: AudioConfig,
    events: Consumer<TimedEvent>,
    tap: Option<Producer<f32>>,
    synth_cfg: SynthConfig,
    errors: Receiver<String>,
    warnings_in: Vec<String>,
) -> Result<AudioHandle, AudioError> {
    let mut warnings = warnings_in;
    let sample_rate = cfg.sample_rate;
    let (engine, w) = Engine::new(SynthConfig {
        sample_rate,
        ..synth_cfg
    })?;
    warnings.extend(w);
    let mut callback = Callback::new(engine, events, tap);
    let meters = callback.meters();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let frames = cfg.buffer_frames.clamp(16, MAX_BLOCK as u32) as usize;
    let thread = std::thread::Builder::new()
        .name("weft-null-audio".into())
        .spawn(move || {
            let mut out = vec![0.0f32; 2 * frames];
            let period = Duration::from_secs_f64(frames as f64 / sample_rate as f64);
            let mut epoch = Instant::now();
            let mut blocks: u32 = 0;
            while !stop2.load(Ordering::Acquire) {
                callback.render(&mut out, 2);
                blocks += 1;
                let deadline = epoch + period * blocks;
                let now = Instant::now();
                if now < deadline {
                    std::thread::sleep(deadline - now);
                } else if now > deadline + period * 4 {
                    // Stalled (suspend, overload): count it and re-anchor rather than
                    // bursting to catch up.
                    callback.meters.underruns.fetch_add(1, Ordering::Relaxed);
                    epoch = now;
                    blocks = 0;
                }
            }
        })
        .map_err(AudioError::Thread)?;
    Ok(AudioHandle {
        meters,
        sample_rate,
        device_name: NULL_SINK.to_string(),
        errors,
        warnings,
        stream: None,
        null: Some((stop, thread)),
        #[cfg(target_os = "linux")]
        jack: None,
    })
}

/// `weft devices`: lists output devices.
#[derive(clap::Args, Debug)]
pub struct DevicesArgs {}

/// Prints the output devices and whether each can be opened.
pub fn run_devices(_args: DevicesArgs) -> Result<(), AudioError> {
    let devices = list_devices();
    let mut out = String::new();
    if devices.is_empty() {
        out.push_str("no output devices found\n");
    }
    for d in &devices {
        let mark = if d.is_default { "*" } else { " " };
        let cfg = match &d.config {
            Ok(c) => c.clone(),
            Err(e) => format!("cannot open: {e}"),
        };
        out.push_str(&format!("{mark} {:<28} {:<24} {cfg}\n", d.id, d.name));
    }
    out.push_str(&format!(
        "  {:<28} {:<24} always available (--null-audio or --device null)\n",
        "null", NULL_SINK
    ));
    print!("{out}");
    Ok(())
}

/// The JACK client (see the module docs).
#[cfg(target_os = "linux")]
mod jack_out;
