//! Plots of a learning task's history, drawn on the server as SVG: one
//! small line chart per metric over rounds, from the rows the requester
//! writes to its log (`delta.learning round: {json}`, see the SDK's
//! `delta.learning.progress_line`). No script library is needed to see them.

use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::Value;

/// The prefix of a learning task's per-round log line.
pub const PROGRESS_PREFIX: &str = "delta.learning round: ";

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 160.0;
const PAD: f64 = 28.0;

/// The per-round rows found in `lines`, in round order (a later row for the
/// same round replaces an earlier one, as after a resume).
pub fn history(lines: &[String]) -> Vec<BTreeMap<String, Value>> {
	let mut rows: BTreeMap<i64, BTreeMap<String, Value>> = BTreeMap::new();
	for line in lines {
		let Some(at) = line.find(PROGRESS_PREFIX) else { continue };
		let Ok(Value::Object(row)) = serde_json::from_str::<Value>(&line[at + PROGRESS_PREFIX.len()..]) else {
			continue;
		};
		let Some(round) = row.get("round").and_then(Value::as_i64) else { continue };
		rows.insert(round, row.into_iter().collect());
	}
	rows.into_values().collect()
}

/// The metrics worth a chart: numeric columns other than the round itself
/// and the planned number of rounds.
fn metrics(rows: &[BTreeMap<String, Value>]) -> Vec<String> {
	let mut names: Vec<String> = Vec::new();
	for row in rows {
		for (k, v) in row {
			if k != "round" && k != "planned" && v.is_number() && !names.contains(k) {
				names.push(k.clone());
			}
		}
	}
	names
}

/// A chart per metric (empty when there are no rows), and a table of the rows.
pub fn render(rows: &[BTreeMap<String, Value>]) -> Markup {
	let names = metrics(rows);
	html! {
		@if !rows.is_empty() {
			h2 { "History" }
			div.charts {
				@for name in &names { (chart(name, rows)) }
			}
			table.history {
				thead { tr { th { "round" } @for n in &names { th { (n) } } } }
				tbody {
					@for row in rows {
						tr {
							td { (row.get("round").map(Value::to_string).unwrap_or_default()) }
							@for n in &names { td { (cell(row.get(n))) } }
						}
					}
				}
			}
		}
	}
}

fn cell(v: Option<&Value>) -> String {
	match v.and_then(Value::as_f64) {
		Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
		Some(x) => format!("{x:.4}"),
		None => String::new(),
	}
}

fn chart(name: &str, rows: &[BTreeMap<String, Value>]) -> Markup {
	let points: Vec<(f64, f64)> = rows
		.iter()
		.filter_map(|r| Some((r.get("round")?.as_f64()?, r.get(name)?.as_f64()?)))
		.filter(|(_, y)| y.is_finite())
		.collect();
	let (x0, x1) = bounds(points.iter().map(|p| p.0));
	let (y0, y1) = bounds(points.iter().map(|p| p.1));
	let sx = |x: f64| PAD + (x - x0) / (x1 - x0) * (WIDTH - 2.0 * PAD);
	let sy = |y: f64| HEIGHT - PAD - (y - y0) / (y1 - y0) * (HEIGHT - 2.0 * PAD);
	let path: Vec<String> = points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
	html! {
		figure.chart {
			svg.history data-metric=(name) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label={ (name) " by round" } {
				line.axis x1=(PAD) y1=(HEIGHT - PAD) x2=(WIDTH - PAD) y2=(HEIGHT - PAD) {}
				line.axis x1=(PAD) y1=(PAD) x2=(PAD) y2=(HEIGHT - PAD) {}
				text x=(PAD) y=(PAD - 8.0) { (cell(Some(&Value::from(y1)))) }
				text x=(PAD) y=(HEIGHT - 6.0) { (cell(Some(&Value::from(y0)))) }
				text x=(WIDTH - PAD) y=(HEIGHT - 6.0) text-anchor="end" { "round " (cell(Some(&Value::from(x1)))) }
				polyline points=(path.join(" ")) {}
				@for &(x, y) in &points { circle cx=(format!("{:.1}", sx(x))) cy=(format!("{:.1}", sy(y))) r="2.5" {} }
			}
			figcaption { (name) }
		}
	}
}

/// The range of `values`, widened so that a constant series still draws.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
	let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
	if !lo.is_finite() || !hi.is_finite() {
		return (0.0, 1.0);
	}
	if hi - lo < 1e-12 {
		(lo - 0.5, hi + 0.5)
	} else {
		(lo, hi)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn rows_come_from_progress_lines_in_round_order() {
		let lines: Vec<String> = [
			"[requester] delta.learning round: {\"round\": 1, \"train_loss\": 0.5, \"planned\": 3}",
			"something else",
			"delta.learning round: {\"round\": 0, \"train_loss\": 0.9, \"accuracy\": 0.4, \"planned\": 3}",
			"delta.learning round: not json",
			"delta.learning round: {\"round\": 1, \"train_loss\": 0.45, \"planned\": 3}",
		]
		.map(String::from)
		.to_vec();
		let rows = history(&lines);
		assert_eq!(rows.len(), 2);
		assert_eq!(rows[0]["train_loss"], Value::from(0.9));
		assert_eq!(rows[1]["train_loss"], Value::from(0.45), "a repeated round replaces the earlier row");
		assert_eq!(metrics(&rows), vec!["accuracy".to_string(), "train_loss".to_string()]);
		let html = render(&rows).into_string();
		assert_eq!(html.matches("<svg class=\"history\"").count(), 2, "{html}");
		assert!(html.contains("data-metric=\"train_loss\""));
		assert!(render(&[]).into_string().is_empty());
	}

	#[test]
	fn a_metric_name_is_escaped() {
		let lines = vec!["delta.learning round: {\"round\": 0, \"<b>x</b>\": 1}".to_string()];
		let html = render(&history(&lines)).into_string();
		assert!(!html.contains("<b>"), "{html}");
		assert!(html.contains("&lt;b&gt;"));
	}
}
