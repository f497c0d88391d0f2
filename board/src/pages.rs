//! The frame every page shares, and small helpers for what pages show.
//! Pages are `maud` templates: checked when the board compiles, and every
//! value is HTML-escaped unless a template says otherwise.

use std::sync::atomic::{AtomicBool, Ordering};

use maud::{html, Markup, DOCTYPE};

use crate::store::Session;

/// The board's stylesheet and script, served from `/static/`.
pub const CSS: &str = include_str!("../static/board.css");
pub const JS: &str = include_str!("../static/board.js");

static LAB: AtomicBool = AtomicBool::new(false);

/// Shows the JupyterLab link in every page's navigation (the board runs a hub).
pub fn offer_lab(on: bool) {
	LAB.store(on, Ordering::Relaxed);
}

/// A whole page: `title`, the navigation for `session` (none: signed out)
/// and `body`.
pub fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
	html! {
		(DOCTYPE)
		html lang="en" {
			head {
				meta charset="utf-8";
				meta name="viewport" content="width=device-width, initial-scale=1";
				title { (title) " · Deltaboard" }
				link rel="stylesheet" href="/static/board.css";
				script src="/static/board.js" defer {}
			}
			body {
				header {
					a.brand href="/" { "Deltaboard" }
					@if let Some(s) = session {
						nav {
							a href="/tasks" { "Tasks" }
							@if LAB.load(Ordering::Relaxed) { a href="/lab" { "JupyterLab" } }
							a href="/tokens" { "API tokens" }
							a href="/datasets" { "Datasets" }
							a href="/members" { "Members" }
							a href="/node" { "Node" }
							@if s.user.is_admin() { a href="/users" { "Users" } }
						}
						form.signout method="post" action="/logout" {
							input type="hidden" name="csrf" value=(s.csrf);
							span.who { (s.user.name) @if s.user.is_admin() { " (admin)" } }
							button type="submit" { "Sign out" }
						}
					}
				}
				main { h1 { (title) } (body) }
			}
		}
	}
}

/// A message box: `kind` is `error` or `note`.
pub fn message(kind: &str, text: &str) -> Markup {
	html! { p class={ "message " (kind) } role=(if kind == "error" { "alert" } else { "status" }) { (text) } }
}

/// A time as `2026-12-06 13:40:12 UTC`.
pub fn time(ms: u64) -> String {
	let secs = ms / 1000;
	let (days, rem) = (secs / 86_400, secs % 86_400);
	let (y, m, d) = civil_from_days(days as i64);
	format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// civil-from-days algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
	let z = z + 719_468;
	let era = z.div_euclid(146_097);
	let doe = z.rem_euclid(146_097);
	let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
	let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	let mp = (5 * doy + 2) / 153;
	let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
	let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
	let y = yoe + era * 400 + i64::from(m <= 2);
	(y, m, d)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn times_are_utc_dates() {
		assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
		assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00 UTC");
		assert_eq!(time(1_796_564_412_000), "2026-12-06 13:40:12 UTC");
	}
}
