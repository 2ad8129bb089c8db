//! Forecast pane: a chart of the recent history, the forecast mean and its 80% and 95%
//! intervals drawn as filled bands, under a line naming the series, the model and the
//! backtest figures.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::{note, put, ready_or_explain};
use crate::tui::app::App;
use crate::tui::model::ForecastView;

/// How much history to show, in multiples of the horizon (and at least four weeks).
const HISTORY_PER_HORIZON: usize = 3;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(f) = ready_or_explain(t, &app.snapshot.forecast, area, buf) else {
        return;
    };
    let mut x = put(buf, area, area.x, area.y, &f.series, t.value());
    x = put(buf, area, x, area.y, " · ", t.dim());
    x = put(buf, area, x, area.y, &f.model, t.text());
    if let Some(b) = &f.backtest {
        x = put(buf, area, x, area.y, " · ", t.dim());
        put(buf, area, x, area.y, b, t.dim());
    }
    let chart_area = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    };
    if f.history.is_empty() && f.forecast.is_empty() {
        note(t, "no history to forecast from", chart_area, buf);
        return;
    }
    if chart_area.height < 3 || chart_area.width < 10 {
        return;
    }
    chart(app, f, chart_area, buf);
}

fn chart(app: &App, f: &ForecastView, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let keep = (f.forecast.len() * HISTORY_PER_HORIZON).max(28);
    let hist = &f.history[f.history.len().saturating_sub(keep)..];
    let n_hist = hist.len();
    let x_max = (n_hist + f.forecast.len()).saturating_sub(1).max(1) as f64;

    let history: Vec<(f64, f64)> = hist
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64, *v))
        .collect();
    // The forecast line starts at the last observation so the two lines join.
    let mut mean: Vec<(f64, f64)> = Vec::with_capacity(f.forecast.len() + 1);
    if let Some(last) = history.last() {
        mean.push(*last);
    }
    mean.extend(
        f.forecast
            .iter()
            .enumerate()
            .map(|(i, p)| ((n_hist + i) as f64, p.mean)),
    );

    let (mut y_lo, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in hist
        .iter()
        .copied()
        .chain(f.forecast.iter().flat_map(|p| [p.lo95, p.hi95, p.mean]))
    {
        if v.is_finite() {
            y_lo = y_lo.min(v);
            y_hi = y_hi.max(v);
        }
    }
    if !y_lo.is_finite() {
        (y_lo, y_hi) = (0.0, 1.0);
    }
    // Counts: start the axis at zero so the scale is honest.
    if y_lo > 0.0 {
        y_lo = 0.0;
    }
    if y_hi - y_lo < 1e-9 {
        y_hi = y_lo + 1.0;
    }

    // Bands as dense point clouds at braille resolution (2×4 dots per cell).
    let (dx, dy) = (
        x_max / (area.width.max(1) as f64 * 2.0),
        (y_hi - y_lo) / (area.height.max(1) as f64 * 4.0),
    );
    let band = |lo: fn(&crate::tui::model::ForecastPoint) -> f64,
                hi: fn(&crate::tui::model::ForecastPoint) -> f64| {
        let mut pts = Vec::new();
        for (i, w) in f.forecast.windows(2).enumerate() {
            let x0 = (n_hist + i) as f64;
            let mut x = x0;
            while x < x0 + 1.0 {
                let a = x - x0;
                let l = lo(&w[0]) * (1.0 - a) + lo(&w[1]) * a;
                let h = hi(&w[0]) * (1.0 - a) + hi(&w[1]) * a;
                let mut y = l;
                while y <= h {
                    pts.push((x, y));
                    y += dy;
                }
                x += dx;
            }
        }
        if let Some(p) = f.forecast.last() {
            let x = (n_hist + f.forecast.len() - 1) as f64;
            let mut y = lo(p);
            while y <= hi(p) {
                pts.push((x, y));
                y += dy;
            }
        }
        pts
    };
    let band95 = band(|p| p.lo95, |p| p.hi95);
    let band80 = band(|p| p.lo80, |p| p.hi80);

    let datasets = vec![
        Dataset::default()
            .name("95%")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(t.band95())
            .data(&band95),
        Dataset::default()
            .name("80%")
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(t.band80())
            .data(&band80),
        Dataset::default()
            .name("history")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.history())
            .data(&history),
        Dataset::default()
            .name("forecast")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.forecast())
            .data(&mean),
    ];
    let x_labels = vec![
        Span::styled(f.first_date.clone(), t.dim()),
        Span::styled("today", t.dim()),
        Span::styled(f.last_date.clone(), t.dim()),
    ];
    let today = n_hist.saturating_sub(1) as f64;
    // Labels are spread evenly; put "today" where it belongs only when it is near the middle.
    let x_labels = if (today / x_max - 0.5).abs() < 0.2 {
        x_labels
    } else {
        vec![x_labels[0].clone(), x_labels[2].clone()]
    };
    Chart::new(datasets)
        .x_axis(Axis::default().bounds([0.0, x_max]).labels(x_labels))
        .y_axis(Axis::default().bounds([y_lo, y_hi]).labels(vec![
            Span::styled(compact(y_lo), t.dim()),
            Span::styled(compact(y_hi), t.dim()),
        ]))
        .legend_position(if area.height >= 10 {
            Some(ratatui::widgets::LegendPosition::TopLeft)
        } else {
            None
        })
        .render(area, buf);
}

fn compact(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}
