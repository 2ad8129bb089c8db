//! Colours and text styles of the screen, in one place so `NO_COLOR` is honoured everywhere.
//!
//! Every pane asks the theme for a style by meaning (ok, warn, error, …). Without colour the
//! meanings that matter stay visible through modifiers (bold, reversed) and through symbols
//! the panes print anyway (`ERROR`, `✗`, `[M]`).

use ratatui::style::{Color, Modifier, Style};

/// Styles by meaning.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Self {
        Theme { color }
    }

    pub fn has_color(&self) -> bool {
        self.color
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn text(&self) -> Style {
        Style::new()
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
    pub fn label(&self) -> Style {
        self.fg(Color::Gray)
    }
    pub fn value(&self) -> Style {
        self.fg(Color::White).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn pending(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn note(&self) -> Style {
        self.fg(Color::Magenta)
    }
    pub fn bar(&self) -> Style {
        self.fg(Color::Cyan)
    }
    /// The beat and onset flash: reversed, so it shows without colour too.
    pub fn flash(&self) -> Style {
        self.fg(Color::Yellow)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }
    pub fn recording(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn border(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn border_focused(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Gray).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn band95(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn band80(&self) -> Style {
        self.fg(Color::Blue)
    }
    pub fn history(&self) -> Style {
        self.fg(Color::White)
    }
    pub fn forecast(&self) -> Style {
        self.fg(Color::Yellow)
    }
}
