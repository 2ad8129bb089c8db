//! UI state and input handling: focus, zoom, overlays, the selected voice, the latest
//! snapshot and the message log.
//!
//! Data flow: `AppEvent` → [`App::handle`] (updates state, maybe returns a [`UiCommand`] for the
//! engine, marks the screen dirty) → [`App::draw`] (pure function of the state, also records
//! where each pane was drawn so a mouse click can focus it).

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::text::Span;
use ratatui::{Frame, Terminal};

use super::messages::{Level, MessageLog};
use super::model::Snapshot;
use super::theme::Theme;
use super::{AppEvent, UiCommand};

/// The panes, numbered as the `1`–`7` zoom keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Patches,
    Transport,
    Voices,
    Spectrum,
    Messages,
    Recommend,
    Forecast,
}

impl Pane {
    pub const ALL: [Pane; 7] = [
        Pane::Patches,
        Pane::Transport,
        Pane::Voices,
        Pane::Spectrum,
        Pane::Messages,
        Pane::Recommend,
        Pane::Forecast,
    ];

    /// 1-based number (the zoom key).
    pub fn number(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0) + 1
    }

    pub fn name(self) -> &'static str {
        match self {
            Pane::Patches => "patches",
            Pane::Transport => "transport",
            Pane::Voices => "voices",
            Pane::Spectrum => "spectrum",
            Pane::Messages => "messages",
            Pane::Recommend => "recommend",
            Pane::Forecast => "forecast",
        }
    }

    fn offset(self, by: isize) -> Pane {
        let n = Pane::ALL.len() as isize;
        let i = (self.number() as isize - 1 + by).rem_euclid(n);
        Pane::ALL[i as usize]
    }
}

/// A modal layer drawn over the panes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    ConfirmQuit,
}

/// The state of the screen.
#[derive(Debug)]
pub struct App {
    pub(crate) snapshot: Snapshot,
    pub(crate) has_snapshot: bool,
    pub(crate) messages: MessageLog,
    pub(crate) focus: Pane,
    pub(crate) zoom: Option<Pane>,
    pub(crate) overlay: Overlay,
    pub(crate) selected_voice: usize,
    pub(crate) theme: Theme,
    recommend_override: bool,
    forecast_override: bool,
    pane_rects: Vec<(Pane, Rect)>,
    quit: bool,
    dirty: bool,
}

impl App {
    pub fn new(theme: Theme) -> Self {
        App {
            snapshot: Snapshot::default(),
            has_snapshot: false,
            messages: MessageLog::default(),
            focus: Pane::Voices,
            zoom: None,
            overlay: Overlay::None,
            selected_voice: 0,
            theme,
            recommend_override: false,
            forecast_override: false,
            pane_rects: Vec::new(),
            quit: false,
            dirty: true,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether the transport runs (the loop then draws at a steady frame rate).
    pub fn is_playing(&self) -> bool {
        self.has_snapshot && self.snapshot.transport.playing
    }

    pub fn focus(&self) -> Pane {
        self.focus
    }

    pub fn zoom(&self) -> Option<Pane> {
        self.zoom
    }

    pub fn overlay(&self) -> Overlay {
        self.overlay
    }

    pub fn messages(&self) -> &MessageLog {
        &self.messages
    }

    /// The voice `m` and `s` act on.
    pub fn selected_voice(&self) -> Option<&str> {
        self.snapshot
            .voices
            .get(self.selected_voice)
            .map(|v| v.name.as_str())
    }

    /// Applies one event; returns the command it asks of the engine, if any.
    pub fn handle(&mut self, ev: AppEvent) -> Option<UiCommand> {
        match ev {
            AppEvent::Key(key) => {
                let cmd = self.on_key(key);
                self.dirty = true;
                cmd
            }
            AppEvent::Mouse(m) => {
                if let MouseEventKind::Down(MouseButton::Left) = m.kind {
                    let at = Position::new(m.column, m.row);
                    if let Some((pane, _)) = self.pane_rects.iter().find(|(_, r)| r.contains(at)) {
                        self.focus = *pane;
                        self.dirty = true;
                    }
                }
                None
            }
            AppEvent::Resize(..) => {
                self.dirty = true;
                None
            }
            AppEvent::Tick => {
                if self.is_playing() {
                    self.dirty = true;
                }
                None
            }
            AppEvent::Snapshot(snap) => {
                let mut snap = *snap;
                if self.recommend_override {
                    snap.recommend = std::mem::take(&mut self.snapshot.recommend);
                }
                if self.forecast_override {
                    snap.forecast = std::mem::take(&mut self.snapshot.forecast);
                }
                self.snapshot = snap;
                self.has_snapshot = true;
                let n = self.snapshot.voices.len();
                self.selected_voice = self.selected_voice.min(n.saturating_sub(1));
                if self.overlay == Overlay::ConfirmQuit
                    && self.snapshot.transport.recording.is_none()
                {
                    self.overlay = Overlay::None;
                }
                self.dirty = true;
                None
            }
            AppEvent::Message(level, text) => {
                self.messages.push(level, &text);
                self.dirty = true;
                None
            }
            AppEvent::Recommend(r) => {
                self.snapshot.recommend = r;
                self.recommend_override = true;
                self.dirty = true;
                None
            }
            AppEvent::Forecast(f) => {
                self.snapshot.forecast = f;
                self.forecast_override = true;
                self.dirty = true;
                None
            }
            AppEvent::Quit => {
                self.quit = true;
                Some(UiCommand::Quit)
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Option<UiCommand> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C'));
        match self.overlay {
            Overlay::ConfirmQuit => {
                return match key.code {
                    KeyCode::Char('y')
                    | KeyCode::Char('Y')
                    | KeyCode::Char('q')
                    | KeyCode::Enter => {
                        self.quit = true;
                        Some(UiCommand::Quit)
                    }
                    _ if ctrl_c => {
                        self.quit = true;
                        Some(UiCommand::Quit)
                    }
                    _ => {
                        self.overlay = Overlay::None;
                        None
                    }
                };
            }
            Overlay::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
                ) {
                    self.overlay = Overlay::None;
                    return None;
                }
            }
            Overlay::None => {}
        }
        if ctrl_c {
            return self.ask_quit();
        }
        match key.code {
            KeyCode::Char(' ') => Some(UiCommand::TogglePlay),
            KeyCode::Char('r') => Some(UiCommand::ToggleRecord),
            KeyCode::Char('!') => Some(UiCommand::Panic),
            KeyCode::Char('+') | KeyCode::Char('=') => Some(UiCommand::TempoDelta(1.0)),
            KeyCode::Char('-') | KeyCode::Char('_') => Some(UiCommand::TempoDelta(-1.0)),
            KeyCode::Tab => {
                self.focus = self.focus.offset(1);
                None
            }
            KeyCode::BackTab => {
                self.focus = self.focus.offset(-1);
                None
            }
            KeyCode::Char(c @ '1'..='7') => {
                let pane = Pane::ALL[(c as u8 - b'1') as usize];
                self.zoom = if self.zoom == Some(pane) {
                    None
                } else {
                    Some(pane)
                };
                self.focus = pane;
                None
            }
            KeyCode::Esc => {
                self.overlay = Overlay::None;
                self.zoom = None;
                None
            }
            KeyCode::Char('?') => {
                self.overlay = Overlay::Help;
                None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected_voice = self.selected_voice.saturating_sub(1);
                None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let n = self.snapshot.voices.len();
                self.selected_voice = (self.selected_voice + 1).min(n.saturating_sub(1));
                None
            }
            KeyCode::Char('m') => self.voice_command(UiCommand::Mute, "mute"),
            KeyCode::Char('s') => self.voice_command(UiCommand::Solo, "solo"),
            KeyCode::Char('q') => self.ask_quit(),
            _ => None,
        }
    }

    fn voice_command(&mut self, make: fn(String) -> UiCommand, what: &str) -> Option<UiCommand> {
        match self.selected_voice() {
            Some(name) => Some(make(name.to_string())),
            None => {
                self.messages
                    .push(Level::Info, &format!("no voice to {what}"));
                None
            }
        }
    }

    fn ask_quit(&mut self) -> Option<UiCommand> {
        if self.snapshot.transport.recording.is_some() {
            self.overlay = Overlay::ConfirmQuit;
            None
        } else {
            self.quit = true;
            Some(UiCommand::Quit)
        }
    }

    /// Draws the whole screen into the frame.
    pub fn draw(&mut self, frame: &mut Frame) {
        let area = frame.area();
        self.draw_buffer(area, frame.buffer_mut());
        self.dirty = false;
    }

    /// Draws the whole screen into a buffer (what [`App::draw`] does, without a terminal).
    pub fn draw_buffer(&mut self, area: Rect, buf: &mut Buffer) {
        self.pane_rects = super::ui::layout(self, area);
        super::ui::draw(self, &self.pane_rects, area, buf);
    }

    /// Renders the whole screen into a `width`×`height` text (trailing spaces removed).
    pub fn render_to_string(&mut self, width: u16, height: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(width, height)).expect("test backend");
        term.draw(|f| self.draw(f)).expect("test backend");
        buffer_to_string(term.backend().buffer())
    }

    /// Renders one pane alone into a `width`×`height` text.
    pub fn render_pane_to_string(&self, pane: Pane, width: u16, height: u16) -> String {
        let area = Rect::new(0, 0, width, height);
        let mut buf = Buffer::empty(area);
        super::panes::render(pane, self, area, &mut buf);
        buffer_to_string(&buf)
    }
}

/// The symbols of a buffer as lines of text, trailing spaces removed; cells hidden by a
/// double-width symbol are skipped.
pub fn buffer_to_string(buf: &Buffer) -> String {
    let width = buf.area.width.max(1) as usize;
    let mut out = String::with_capacity(buf.content.len() + buf.area.height as usize);
    for row in buf.content.chunks(width) {
        let mut line = String::with_capacity(width);
        let mut skip = 0usize;
        for cell in row {
            let sym = cell.symbol();
            if skip == 0 {
                line.push_str(sym);
            }
            skip = skip.max(Span::raw(sym).width()).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::model::{RecView, VoiceView};
    use crossterm::event::KeyEventState;

    fn key(code: KeyCode) -> AppEvent {
        AppEvent::Key(KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    fn voice(name: &str) -> VoiceView {
        VoiceView {
            name: name.into(),
            muted: false,
            soloed: false,
            notes: vec![],
            lstm_top: None,
        }
    }

    fn app_with(snapshot: Snapshot) -> App {
        let mut app = App::new(Theme::new(false));
        app.handle(AppEvent::Snapshot(Box::new(snapshot)));
        app
    }

    #[test]
    fn transport_keys_become_commands() {
        let mut app = app_with(Snapshot::default());
        assert_eq!(
            app.handle(key(KeyCode::Char(' '))),
            Some(UiCommand::TogglePlay)
        );
        assert_eq!(
            app.handle(key(KeyCode::Char('r'))),
            Some(UiCommand::ToggleRecord)
        );
        assert_eq!(
            app.handle(key(KeyCode::Char('+'))),
            Some(UiCommand::TempoDelta(1.0))
        );
        assert_eq!(
            app.handle(key(KeyCode::Char('-'))),
            Some(UiCommand::TempoDelta(-1.0))
        );
        assert_eq!(app.handle(key(KeyCode::Char('!'))), Some(UiCommand::Panic));
        assert_eq!(
            crate::tui::bridge::engine_command(UiCommand::Panic),
            crate::engine::live::Command::Panic
        );
    }

    #[test]
    fn mute_and_solo_name_the_selected_voice() {
        let mut app = app_with(Snapshot {
            voices: vec![voice("groove.kick"), voice("groove.bass")],
            ..Snapshot::default()
        });
        assert_eq!(
            app.handle(key(KeyCode::Char('m'))),
            Some(UiCommand::Mute("groove.kick".into()))
        );
        app.handle(key(KeyCode::Down));
        app.handle(key(KeyCode::Down));
        assert_eq!(
            app.handle(key(KeyCode::Char('s'))),
            Some(UiCommand::Solo("groove.bass".into()))
        );
    }

    #[test]
    fn mute_without_voices_says_so_instead_of_sending() {
        let mut app = app_with(Snapshot::default());
        assert_eq!(app.handle(key(KeyCode::Char('m'))), None);
        assert_eq!(
            app.messages().iter().last().unwrap().text,
            "no voice to mute"
        );
    }

    #[test]
    fn quit_asks_first_while_recording() {
        let mut snap = Snapshot::default();
        snap.transport.recording = Some(RecView {
            file: "take1.mid".into(),
            elapsed_s: 3.0,
        });
        let mut app = app_with(snap);
        assert_eq!(app.handle(key(KeyCode::Char('q'))), None);
        assert_eq!(app.overlay(), Overlay::ConfirmQuit);
        assert_eq!(app.handle(key(KeyCode::Char('n'))), None);
        assert!(!app.should_quit());
        app.handle(key(KeyCode::Char('q')));
        assert_eq!(app.handle(key(KeyCode::Char('y'))), Some(UiCommand::Quit));
        assert!(app.should_quit());
    }

    #[test]
    fn quit_is_immediate_when_not_recording() {
        let mut app = app_with(Snapshot::default());
        assert_eq!(app.handle(key(KeyCode::Char('q'))), Some(UiCommand::Quit));
        assert!(app.should_quit());
    }

    #[test]
    fn focus_cycles_and_zoom_toggles() {
        let mut app = app_with(Snapshot::default());
        assert_eq!(app.focus(), Pane::Voices);
        app.handle(key(KeyCode::Tab));
        assert_eq!(app.focus(), Pane::Spectrum);
        app.handle(key(KeyCode::BackTab));
        app.handle(key(KeyCode::BackTab));
        app.handle(key(KeyCode::BackTab));
        app.handle(key(KeyCode::BackTab));
        assert_eq!(app.focus(), Pane::Forecast);
        app.handle(key(KeyCode::Char('4')));
        assert_eq!(app.zoom(), Some(Pane::Spectrum));
        app.handle(key(KeyCode::Char('4')));
        assert_eq!(app.zoom(), None);
        app.handle(key(KeyCode::Char('2')));
        app.handle(key(KeyCode::Esc));
        assert_eq!(app.zoom(), None);
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut app = app_with(Snapshot::default());
        let mut ev = KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE);
        ev.kind = KeyEventKind::Release;
        assert_eq!(app.handle(AppEvent::Key(ev)), None);
    }

    #[test]
    fn a_click_focuses_the_pane_under_the_pointer() {
        let mut app = app_with(Snapshot::default());
        app.render_to_string(160, 48);
        let (pane, rect) = app
            .pane_rects
            .iter()
            .copied()
            .find(|(p, _)| *p == Pane::Forecast)
            .unwrap();
        app.handle(AppEvent::Mouse(crossterm::event::MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: rect.x + 1,
            row: rect.y + 1,
            modifiers: KeyModifiers::NONE,
        }));
        assert_eq!(app.focus(), pane);
    }

    #[test]
    fn worker_results_survive_later_engine_snapshots() {
        use crate::tui::model::Availability;
        let mut app = app_with(Snapshot::default());
        app.handle(AppEvent::Recommend(Availability::Working("fitting".into())));
        app.handle(AppEvent::Snapshot(Box::default()));
        assert_eq!(
            app.snapshot.recommend,
            Availability::Working("fitting".into())
        );
    }

    #[test]
    fn idle_ticks_do_not_redraw_but_playing_ticks_do() {
        let mut app = app_with(Snapshot::default());
        app.render_to_string(80, 24);
        app.handle(AppEvent::Tick);
        assert!(!app.is_dirty());
        let mut snap = Snapshot::default();
        snap.transport.playing = true;
        app.handle(AppEvent::Snapshot(Box::new(snap)));
        app.render_to_string(80, 24);
        app.handle(AppEvent::Tick);
        assert!(app.is_dirty());
    }
}
