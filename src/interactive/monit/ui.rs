//! Drawing the dashboard: the services (status, cpu, mem, a cpu sparkline each) on the left,
//! the selected one's details, cpu and memory history and log on the right, keys at the bottom.

use super::app::{clean, App, Mode};
use crate::commands::table::uptime;
use crate::model::status::Status;
use crate::ops::rows::Row as ListRow;
use crate::state::usage::{cpu_cell, memory_cell};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;

/// The smallest terminal the layout fits in.
pub const MIN_COLS: u16 = 70;
pub const MIN_ROWS: u16 = 12;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn status_style(row: &ListRow) -> Style {
    let failed = row
        .end
        .as_ref()
        .is_some_and(crate::model::run::RunEnd::failed);
    Style::default().fg(match row.status {
        Status::Online => Color::Green,
        s if s.is_transient() => Color::Yellow,
        s if s.is_failure() => Color::Red,
        Status::Exited if failed => Color::Red,
        _ => Color::Gray,
    })
}

/// The last `width` samples as bar characters, scaled to at least `floor`.
fn spark(samples: impl DoubleEndedIterator<Item = u64>, width: usize, floor: u64) -> String {
    let mut last: Vec<u64> = samples.rev().take(width).collect();
    last.reverse();
    let top = last.iter().copied().max().unwrap_or(0).max(floor).max(1);
    last.iter()
        .map(|v| BARS[((v * 7 + top / 2) / top).min(7) as usize])
        .collect()
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_COLS || area.height < MIN_ROWS {
        let text = format!(
            "terminal too small for tsm monit: {}x{}, needs {MIN_COLS}x{MIN_ROWS} (q quits)",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [main, help] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    if app.mode == Mode::FullLog {
        draw_log(frame, app, main, true);
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(main);
        draw_services(frame, app, left);
        let [details, cpu, mem, log] = Layout::vertical([
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Min(3),
        ])
        .areas(right);
        draw_details(frame, app, details);
        draw_history(frame, app, cpu, mem);
        draw_log(frame, app, log, false);
    }
    frame.render_widget(Paragraph::new(help_line(app)), help);
}

fn help_line(app: &App) -> Line<'static> {
    let keys = match &app.mode {
        Mode::Filter => format!("filter: {}▏  Enter keep · Esc clear", app.filter),
        Mode::ConfirmDelete(name) => format!("delete '{name}'? y yes · n no"),
        Mode::FullLog => "Esc/l back · q quit".to_string(),
        Mode::Normal => {
            "↑↓ select · r restart · s stop/start · d delete · / filter · l log · q quit"
                .to_string()
        }
    };
    let mut spans = vec![Span::styled(
        keys,
        Style::default().add_modifier(Modifier::REVERSED),
    )];
    let note = app.error.as_ref().unwrap_or(&app.message);
    if !note.is_empty() {
        spans.push(Span::raw(format!("  {}", clean(note))));
    }
    Line::from(spans)
}

fn draw_services(frame: &mut Frame, app: &App, area: Rect) {
    let visible = app.visible();
    let name_width = visible
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(4, 40) as u16;
    // id, status, cpu, mem, borders, gaps and the selection mark take 37 columns.
    let spark_width = area.width.saturating_sub(37 + name_width).min(30) as usize;
    let rows: Vec<Row> = visible
        .iter()
        .map(|r| {
            let history = app.history.get(&r.name);
            let line = history.map_or(String::new(), |h| {
                spark(h.cpu.iter().copied(), spark_width, 100)
            });
            Row::new(vec![
                Cell::from(r.id.map_or("-".into(), |i| i.to_string())),
                Cell::from(clean(&r.name)),
                Cell::from(r.status.as_str()).style(status_style(r)),
                Cell::from(r.cpu.map_or("-".into(), cpu_cell)),
                Cell::from(r.memory.map_or("-".into(), memory_cell)),
                Cell::from(line).style(Style::default().fg(Color::Cyan)),
            ])
        })
        .collect();
    let title = match app.filter.is_empty() {
        true => format!(" tsm monit · {} services ", app.rows.len()),
        false => format!(
            " tsm monit · {} of {} services · filter '{}' ",
            visible.len(),
            app.rows.len(),
            clean(&app.filter)
        ),
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(name_width),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(spark_width as u16),
        ],
    )
    .header(
        Row::new(["id", "name", "status", "cpu", "mem", "cpu history"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(Block::default().borders(Borders::ALL).title(title))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .highlight_symbol("▶");
    let mut state = TableState::default().with_selected(
        visible
            .iter()
            .position(|r| Some(&r.name) == app.selected.as_ref()),
    );
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_details(frame: &mut Frame, app: &App, area: Rect) {
    let text = match app.selected_row() {
        Some(r) => vec![
            Line::from(vec![
                Span::raw(format!("{} ", clean(&r.name))),
                Span::styled(r.status.as_str(), status_style(r)),
                Span::raw(format!(
                    "  pid {}  port {}{}",
                    r.pid.map_or("-".into(), |p| p.to_string()),
                    r.port.map_or("-".into(), |p| p.to_string()),
                    r.health
                        .as_ref()
                        .map_or(String::new(), |h| format!("  {h}"))
                )),
            ]),
            Line::from(format!(
                "uptime {}  restarts {}  cpu {}  mem {}",
                r.uptime.map_or("-".into(), uptime),
                r.restarts,
                r.cpu.map_or("-".into(), cpu_cell),
                r.memory.map_or("-".into(), memory_cell)
            )),
        ],
        None => vec![Line::from("no service (tsm start SCRIPT adds one)")],
    };
    frame.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" details ")),
        area,
    );
}

fn draw_history(frame: &mut Frame, app: &App, cpu: Rect, mem: Rect) {
    let history = app.selected.as_ref().and_then(|n| app.history.get(n));
    let width = cpu.width.saturating_sub(2) as usize;
    let tail = |v: Option<&std::collections::VecDeque<u64>>| -> Vec<u64> {
        let v: Vec<u64> = v.map(|d| d.iter().copied().collect()).unwrap_or_default();
        v[v.len().saturating_sub(width)..].to_vec()
    };
    let cpu_data = tail(history.map(|h| &h.cpu));
    let mem_data = tail(history.map(|h| &h.memory));
    let peak = |d: &[u64]| d.iter().copied().max().unwrap_or(0);
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" cpu (peak {}) ", cpu_cell(peak(&cpu_data) as f64))),
            )
            .data(&cpu_data)
            .max(peak(&cpu_data).max(100))
            .style(Style::default().fg(Color::Green)),
        cpu,
    );
    frame.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" mem (peak {}) ", memory_cell(peak(&mem_data)))),
            )
            .data(&mem_data)
            .style(Style::default().fg(Color::Magenta)),
        mem,
    );
}

fn draw_log(frame: &mut Frame, app: &App, area: Rect, full: bool) {
    let name = clean(&app.log.name);
    let [out_area, err_area] =
        Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(area);
    for (lines, part, title, colour) in [
        (&app.log.out, out_area, "out", Color::Reset),
        (&app.log.err, err_area, "err", Color::Red),
    ] {
        let height = part.height.saturating_sub(2) as usize;
        let shown: Vec<Line> = lines[lines.len().saturating_sub(height)..]
            .iter()
            .map(|l| Line::styled(l.clone(), Style::default().fg(colour)))
            .collect();
        let title = match full {
            true => format!(" {name} {title} (full) "),
            false => format!(" {name} {title} "),
        };
        frame.render_widget(
            Paragraph::new(shown).block(Block::default().borders(Borders::ALL).title(title)),
            part,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_floor() {
        assert_eq!(spark([0, 50, 100].into_iter(), 10, 100), "▁▅█");
        assert_eq!(spark([0, 0, 0].into_iter(), 2, 100), "▁▁");
        assert_eq!(spark([200, 100].into_iter(), 5, 100), "█▅");
    }
}
