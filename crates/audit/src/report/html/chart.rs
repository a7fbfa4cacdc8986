//! Charts as inline SVG: a time (or window index) axis, a y axis on round
//! numbers, bars and lines, a legend.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::macros::format_description;

use crate::checks::thousands;
use crate::report::model::WindowPoint;

use super::esc;
use super::wording::parse_time;

/// Where each window sits on the x axis, in seconds: its start time, or its
/// index (in window lengths) when a start time cannot be read.
pub(super) struct Axis {
    xs: Vec<f64>,
    /// One window's length, in the same unit.
    step: f64,
    /// Label per x tick: (x, text).
    ticks: Vec<(f64, String)>,
}

pub(super) fn x_positions(ws: &[&WindowPoint]) -> Axis {
    let parsed: Option<Vec<OffsetDateTime>> = ws.iter().map(|w| parse_time(&w.start)).collect();
    let Some(times) = parsed else {
        let xs: Vec<f64> = (0..ws.len()).map(|i| i as f64).collect();
        let every = ws.len().div_ceil(8).max(1);
        let ticks = (0..ws.len())
            .step_by(every)
            .map(|i| (i as f64, format!("#{}", i + 1)))
            .collect();
        return Axis {
            xs,
            step: 1.0,
            ticks,
        };
    };
    let xs: Vec<f64> = times.iter().map(|t| t.unix_timestamp() as f64).collect();
    let mut gaps: Vec<f64> = xs
        .windows(2)
        .map(|p| p[1] - p[0])
        .filter(|g| *g > 0.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let step = gaps.first().copied().unwrap_or(60.0);
    let (lo, hi) = (xs[0], xs[xs.len() - 1]);
    let multi_day = times[0].date() != times[times.len() - 1].date();
    // Ticks on round times: the smallest "nice" interval giving at most 8.
    const NICE: &[f64] = &[
        60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0,
        86400.0, 172800.0, 604800.0,
    ];
    let range = (hi - lo).max(step);
    let every = NICE
        .iter()
        .copied()
        .find(|n| range / n <= 8.0)
        .unwrap_or(range / 6.0);
    let offset = times[0].offset().whole_seconds() as f64;
    let mut t = ((lo + offset) / every).ceil() * every - offset;
    let mut ticks = Vec::new();
    while t <= hi + 1e-9 {
        if let Ok(dt) = OffsetDateTime::from_unix_timestamp(t as i64) {
            let dt = dt.to_offset(times[0].offset());
            let label = if multi_day {
                dt.format(format_description!(
                    "[day] [month repr:short] [hour]:[minute]"
                ))
            } else {
                dt.format(format_description!("[hour]:[minute]"))
            };
            ticks.push((t, label.unwrap_or_default()));
        }
        t += every;
    }
    Axis { xs, step, ticks }
}

pub(super) struct Series<'a> {
    pub(super) name: &'a str,
    pub(super) color: &'a str,
    pub(super) values: &'a [f64],
    pub(super) bars: bool,
}

/// One chart as inline SVG: axes with ticks and labels, a legend.
pub(super) fn chart(title: &str, y_label: &str, axis: &Axis, series: &[Series<'_>]) -> String {
    const W: f64 = 510.0;
    const H: f64 = 260.0;
    const L: f64 = 58.0; // left margin (y tick labels)
    const R: f64 = 12.0;
    const T: f64 = 40.0; // top margin (legend)
    const B: f64 = 42.0; // bottom margin (x tick labels, axis title)
    let (pw, ph) = (W - L - R, H - T - B);

    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let (y_max, y_step) = nice_scale(max);
    let lo = axis.xs.first().copied().unwrap_or(0.0) - axis.step / 2.0;
    let hi = axis.xs.last().copied().unwrap_or(0.0) + axis.step / 2.0;
    let sx = |x: f64| L + (x - lo) / (hi - lo) * pw;
    let sy = |y: f64| T + ph - (y / y_max) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<figure class=\"chart\"><figcaption>{}</figcaption>\n\
         <svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"inherit\" font-size=\"12\">",
        esc(title),
        esc(title)
    );
    // Horizontal grid and y ticks.
    let mut y = 0.0;
    while y <= y_max + y_step / 1e6 {
        let py = sy(y);
        let _ = writeln!(
            s,
            "<line x1=\"{L}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"{}\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#475569\">{}</text>",
            L + pw,
            if y == 0.0 { "#94a3b8" } else { "#e2e8f0" },
            L - 6.0,
            py + 4.0,
            esc(&tick_label(y))
        );
        y += y_step;
    }
    // X ticks.
    for (x, label) in &axis.ticks {
        let px = sx(*x);
        let _ = writeln!(
            s,
            "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#94a3b8\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\">{}</text>",
            T + ph,
            T + ph + 5.0,
            T + ph + 18.0,
            esc(label)
        );
    }
    // Axis titles.
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\">window start</text>\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#475569\">{}</text>",
        L + pw / 2.0,
        H - 6.0,
        T + ph / 2.0,
        esc(y_label)
    );
    // Data.
    let bar_w = (axis.step / (hi - lo) * pw * 0.72).clamp(1.0, 40.0);
    for se in series {
        let points: Vec<(f64, f64)> = axis
            .xs
            .iter()
            .zip(se.values)
            .filter(|(_, v)| v.is_finite())
            .map(|(x, v)| (sx(*x), sy(*v)))
            .collect();
        if se.bars {
            for (px, py) in &points {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{py:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                    px - bar_w / 2.0,
                    (T + ph - py).max(0.0),
                    se.color
                );
            }
        } else {
            let d: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.2\" stroke-linejoin=\"round\"/>",
                d.join(" "),
                se.color
            );
            if points.len() <= 60 {
                for (px, py) in &points {
                    let _ = writeln!(
                        s,
                        "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"2.6\" fill=\"{}\"/>",
                        se.color
                    );
                }
            }
        }
    }
    // Legend, top left, one entry per series.
    let mut lx = L;
    for se in series {
        let swatch = if se.bars {
            format!(
                "<rect x=\"{lx:.1}\" y=\"12\" width=\"14\" height=\"12\" fill=\"{}\"/>",
                se.color
            )
        } else {
            format!(
                "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"18\" y2=\"18\" stroke=\"{}\" stroke-width=\"3\"/>",
                lx + 16.0,
                se.color
            )
        };
        let _ = writeln!(
            s,
            "{swatch}<text x=\"{:.1}\" y=\"22\" fill=\"#1e293b\">{}</text>",
            lx + 21.0,
            esc(se.name)
        );
        lx += 21.0 + 7.0 * se.name.len() as f64 + 22.0;
    }
    s.push_str("</svg></figure>\n");
    s
}

/// Axis top and tick step: 1, 2 or 5 times a power of ten, about 5 ticks.
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn tick_label(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        thousands(v as u64)
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}
